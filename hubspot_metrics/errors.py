"""The exceptions callers catch.

Every error a user can fix is a `UserError`: its message is one sentence that says what to
fix, and the CLI prints it without a traceback and exits with `exit_code`.
"""


class UserError(Exception):
    """A problem the user can act on (bad config, bad token, bad period, ...)."""

    exit_code = 2

    def __init__(self, message: str, *, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class ConfigError(UserError):
    """The configuration file, environment or options are invalid."""


class StoreError(UserError):
    """The SQLite store is missing, unreadable, corrupt or locked by another sync."""


class HubSpotError(UserError):
    """HubSpot refused or kept failing a request after the retry budget."""

    exit_code = 3


class AuthError(HubSpotError):
    """The token was rejected (401) or lacks a scope (403)."""

    exit_code = 4


class QuotaError(HubSpotError):
    """The daily API quota is spent; what was synced so far is kept."""

    exit_code = 5


class MissingScopeError(AuthError):
    """403 MISSING_SCOPES: the token lacks `scopes` for this call."""

    def __init__(self, message: str, scopes: list[str]):
        super().__init__(message)
        self.scopes = scopes


class NotFoundError(HubSpotError):
    """HubSpot answered 404 for a record or an endpoint."""
