"""A simulated HubSpot portal: seeded realistic CRM data served over HTTP the way HubSpot's
REST API serves it (paging, search, limits, errors and faults), for tests, demos and
benchmarks without a HubSpot account.

    portal = generate_portal(scale=5000, seed=1)
    with PortalServer(portal, token="pat-na1-…") as server:
        HubSpot(access_token="pat-na1-…", host=server.url)
"""

from importlib import import_module

# The simulated portal's own token, shown by `sandbox` and used by the demo; it opens nothing real.
SANDBOX_TOKEN = "pat-na1-sandbox-not-a-real-token"

# Imported on first use: the CLI loads `portal.cli` at start-up, and a cron `sync` should not
# pay for numpy and the generator it never runs.
_EXPORTS = {"Faults": ".faults", "generate_portal": ".generate", "PortalServer": ".server",
            "RequestRecord": ".server", "Portal": ".store"}

__all__ = sorted([*_EXPORTS, "SANDBOX_TOKEN"])


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
