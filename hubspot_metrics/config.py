"""Configuration: defaults < config file < environment < command-line options.

The file is TOML (read with `tomllib`). Every key is declared once in `SCHEMA` with its type,
default and check, so an unknown key, a wrong type or a bad value stops with one sentence
that names the key and the fix.
"""

from __future__ import annotations

import math
import os
import re
import stat
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hubspot_metrics.errors import ConfigError
from hubspot_metrics.objects import CUSTOMER_UNITS, OBJECT_NAMES

DEFAULT_BASE_URL = "https://api.hubapi.com"
DEFAULT_CONFIG_NAME = "hubspot-metrics.toml"
DEFAULT_DB_PATH = "hubspot-metrics.db"
DEFAULT_SCHEMA = "hubspot_metrics"
ALL_OBJECTS = OBJECT_NAMES
NIGHTLY_PERIODS = ("month_to_date", "last_month", "last_quarter", "year_to_date")

ENV_TOKEN = "HUBSPOT_ACCESS_TOKEN"
ENV_BASE_URL = "HUBSPOT_API_BASE_URL"
ENV_CONFIG = "HUBSPOT_METRICS_CONFIG"
ENV_DB = "HUBSPOT_METRICS_DB"


def _timezone(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return "is not a known IANA time zone; use a name such as 'UTC' or 'Europe/Berlin'"
    return None


def _one_of(*choices: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value not in choices:
            return "must be one of " + ", ".join(repr(c) for c in choices)
        return None

    return check


def _positive(value: float) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _non_negative(value: float) -> str | None:
    return None if value >= 0 else "must be 0 or more"


def _whole_rate(value: int) -> str | None:
    # HubSpot's search limit counts whole requests per second; a fraction would be rounded.
    return None if value >= 1 else "must be a whole number of 1 or more"


def _request_seconds(value: float) -> str | None:
    return None if 0 < value <= MAX_TIMEOUT_SECONDS else f"must be more than 0 and at most {MAX_TIMEOUT_SECONDS} seconds"


def _property_name(value: str) -> str | None:
    return None if PROPERTY_NAME.match(value) else "is not a HubSpot property name; use its internal name, e.g. 'churn_date'"


def _pipeline_ids(value: list) -> str | None:
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (str, int)) or v == "":
            return f"has {v!r}, which is not a pipeline id; list ids as strings, e.g. [\"default\", \"12345\"]"
    return None


def _objects(value: list) -> str | None:
    unknown = [v for v in value if v not in ALL_OBJECTS]
    if unknown:
        return f"has unknown object {unknown[0]!r}; use any of {', '.join(ALL_OBJECTS)}"
    return None


def _extra_properties(value: dict) -> str | None:
    for obj, props in value.items():
        if obj not in ALL_OBJECTS:
            return f"has unknown object {obj!r}; use any of {', '.join(ALL_OBJECTS)}"
        if not isinstance(props, list) or not all(isinstance(p, str) and p for p in props):
            return f"[{obj}] must be a list of property names"
    return None


def _periods(value: list) -> str | None:
    if not value:  # an empty list would make nightly snapshot nothing, silently
        return f"must list at least one period; use any of {', '.join(NIGHTLY_PERIODS)}"
    for v in value:
        if v not in NIGHTLY_PERIODS:
            return f"has unknown period {v!r}; use any of {', '.join(NIGHTLY_PERIODS)}"
    return None


def _schema_name(value: str) -> str | None:
    # Lower case, so a BI tool or psql finds it without quoting.
    if SCHEMA_NAME.match(value) and not value.startswith("pg_"):
        return None
    return "is not a schema name; use lower-case letters, digits and _ (at most 63, not starting with pg_)"


def _gross_margin(value: float) -> str | None:
    return None if 0 < value <= 1 else "must be a fraction between 0 (exclusive) and 1, e.g. 0.8"


NUMBER = (int, float)
MAX_TIMEOUT_SECONDS = 3600
SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
PROPERTY_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
# A token is one run of visible ASCII: a space or line break in it (a TOML multi-line string)
# would break the Authorization header, and the HTTP library's error would print the token.
TOKEN_TEXT = re.compile(r"^[\x21-\x7e]+$")
SECRET_KEYS = ("access_token", "client_secret", "refresh_token")

# section -> key -> (accepted python types, default, check or None, the doc line config.example.toml shows)
SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], Any, Callable | None, str]]] = {
    "hubspot": {
        "base_url": ((str,), DEFAULT_BASE_URL, None,
                     "API host; HUBSPOT_API_BASE_URL overrides it"),
        "access_token": ((str,), None, None,
                         "private app token or service key; HUBSPOT_ACCESS_TOKEN overrides it"),
        "client_id": ((str,), None, None,
                      "OAuth app: client id (with client_secret and refresh_token instead of a token)"),
        "client_secret": ((str,), None, None,
                          "OAuth app: client secret"),
        "refresh_token": ((str,), None, None,
                          "OAuth app: refresh token of the installed portal"),
        "requests_per_10s": ((int,), 100, _positive,
                             "your burst limit: 100 Free/Starter, 190 Pro/Enterprise, 250 with the API add-on"),
        "search_requests_per_second": ((int,), 4, _whole_rate,
                                       "search calls per second, a whole number (HubSpot allows 5)"),
        "timeout_seconds": (NUMBER, 60, _request_seconds,
                            "per-request timeout (at most 3600)"),
        "max_retries": ((int,), 8, _non_negative,
                        "retries of a failing request (429, 5xx, resets) before the run stops"),
    },
    "store": {
        "path": ((str,), DEFAULT_DB_PATH, None,
                 "SQLite file or postgresql:// URL; HUBSPOT_METRICS_DB or --db override it"),
        "schema": ((str,), DEFAULT_SCHEMA, _schema_name,
                   "PostgreSQL only: the schema that holds this portal's store (one portal per schema)"),
    },
    "sync": {
        "objects": ((list,), list(ALL_OBJECTS), _objects,
                    "what to sync"),
        "extra_properties": ((dict,), {}, _extra_properties,
                             'more properties per object, e.g. { deals = ["my_custom_field"] }'),
        "all_properties": ((bool,), False, None,
                           "true: also every other property the portal defines"),
        "lookback_seconds": ((int,), 600, _non_negative,
                             "incremental overlap that covers HubSpot's search-index lag"),
    },
    "metrics": {
        # None: the portal's own time zone, stored by sync (UTC before the first sync)
        "timezone": ((str,), None, _timezone,
                     "IANA zone where periods start and end at local midnight; unset: the portal's own zone (stored "
                     "by sync), UTC before the first sync"),
        "customer_object": ((str,), "contacts", _one_of(*CUSTOMER_UNITS),
                            'the customer unit: "contacts" or "companies"'),
        "gross_margin": (NUMBER, 1.0, _gross_margin,
                         "fraction of revenue kept: CLV = ARPA · gross_margin / monthly churn"),
        "deal_pipelines": ((list,), [], _pipeline_ids,
                           "deal pipeline ids to count (empty = all)"),
        "ticket_pipelines": ((list,), [], _pipeline_ids,
                             "ticket pipeline ids to count (empty = all)"),
    },
    "metrics.churn": {
        "mode": ((str,), "inactivity", _one_of("inactivity", "property"),
                 '"inactivity" (no purchase for inactivity_days) or "property"'),
        "inactivity_days": (NUMBER, 365, _positive,
                            "days without a purchase after which a customer counts as churned"),
        "property": ((str,), "churn_date", _property_name,
                     'with mode = "property": the date property that marks churn (sync reads it on the customer '
                     "unit; until then the churn-based KPIs say churn_property_not_synced)"),
    },
    "metrics.csat": {
        "scale_min": (NUMBER, 1, None,
                      "lowest valid CSAT answer (HubSpot's 3-option CSAT: 0)"),
        "scale_max": (NUMBER, 5, None,
                      "highest valid CSAT answer (3-option CSAT: 2)"),
        "satisfied_min": (NUMBER, 4, None,
                          "answers at or above this count as satisfied (3-option CSAT: 2)"),
    },
    "nightly": {
        "periods": ((list,), list(NIGHTLY_PERIODS), _periods,
                    "snapshot periods"),
        "export_path": ((str,), None, None,
                        "CSV written after each nightly run"),
        "report_path": ((str,), None, None,
                        "HTML report written after each nightly run"),
    },
}

SPEND_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _default(section: str, key: str) -> Any:
    """A key's default as its settings class holds it: SCHEMA is the one place defaults are
    written (config.example.toml shows the same values; tests/test_config.py holds them together)."""
    value = SCHEMA[section][key][1]
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, dict):
        return field(default_factory=lambda: dict(value))
    return value


@dataclass(frozen=True)
class ChurnSettings:
    mode: str = _default("metrics.churn", "mode")
    inactivity_days: float = _default("metrics.churn", "inactivity_days")
    property: str = _default("metrics.churn", "property")


@dataclass(frozen=True)
class CsatSettings:
    scale_min: float = _default("metrics.csat", "scale_min")
    scale_max: float = _default("metrics.csat", "scale_max")
    satisfied_min: float = _default("metrics.csat", "satisfied_min")


@dataclass(frozen=True)
class MetricsSettings:
    timezone: str | None = _default("metrics", "timezone")  # None: the portal's (metrics.compute.with_store_timezone)
    customer_object: str = _default("metrics", "customer_object")
    gross_margin: float = _default("metrics", "gross_margin")
    deal_pipelines: tuple[str, ...] = _default("metrics", "deal_pipelines")
    ticket_pipelines: tuple[str, ...] = _default("metrics", "ticket_pipelines")
    churn: ChurnSettings = field(default_factory=ChurnSettings)
    csat: CsatSettings = field(default_factory=CsatSettings)
    spend: dict[str, float] = field(default_factory=dict)  # "YYYY-MM" -> amount


@dataclass(frozen=True)
class HubSpotSettings:
    base_url: str = _default("hubspot", "base_url")
    access_token: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    requests_per_10s: int = _default("hubspot", "requests_per_10s")
    search_requests_per_second: int = _default("hubspot", "search_requests_per_second")
    timeout_seconds: float = _default("hubspot", "timeout_seconds")
    max_retries: int = _default("hubspot", "max_retries")


@dataclass(frozen=True)
class SyncSettings:
    objects: tuple[str, ...] = _default("sync", "objects")
    extra_properties: dict[str, tuple[str, ...]] = _default("sync", "extra_properties")
    all_properties: bool = _default("sync", "all_properties")
    lookback_seconds: int = _default("sync", "lookback_seconds")


@dataclass(frozen=True)
class NightlySettings:
    periods: tuple[str, ...] = _default("nightly", "periods")
    export_path: str | None = _default("nightly", "export_path")
    report_path: str | None = _default("nightly", "report_path")


@dataclass(frozen=True)
class Config:
    hubspot: HubSpotSettings = field(default_factory=HubSpotSettings)
    store_path: str = _default("store", "path")
    store_schema: str = _default("store", "schema")
    sync: SyncSettings = field(default_factory=SyncSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    nightly: NightlySettings = field(default_factory=NightlySettings)
    source: str | None = None  # the config file read, if any


def _read_file(path: Path) -> dict:
    try:
        # A byte-order mark (Windows editors add one) is accepted and dropped.
        text = path.read_text(encoding="utf-8-sig")
    except IsADirectoryError:
        raise ConfigError(f"Config file {path} is a folder; give the path of a TOML file, "
                          f"e.g. {path / DEFAULT_CONFIG_NAME}.")
    except FileNotFoundError:
        raise ConfigError(f"Config file {path} does not exist; create it from config.example.toml or fix the path.")
    except OSError as exc:
        raise ConfigError(f"Config file {path} cannot be read ({exc.strerror}); check its permissions.")
    except UnicodeDecodeError:
        raise ConfigError(f"Config file {path} is not UTF-8 text; save it as UTF-8.")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {path} is not valid TOML ({exc}); fix the syntax there.")


def _type_name(types: tuple[type, ...]) -> str:
    names = {int: "a whole number", float: "a number", str: "a string", bool: "true or false",
             list: "a list", dict: "a table"}
    if types == NUMBER:
        return "a number"
    return " or ".join(names[t] for t in types)


def _validate(raw: dict, where: str) -> dict[str, dict[str, Any]]:
    """Check every key of the parsed file; return section -> key -> value (defaults filled)."""
    values = {section: {k: spec[1] for k, spec in keys.items()} for section, keys in SCHEMA.items()}
    values["spend"] = {}
    for top, content in raw.items():
        if top == "spend":
            values["spend"] = _validate_spend(content, where)
            continue
        if top not in ("hubspot", "store", "sync", "metrics", "nightly"):
            raise ConfigError(
                f"Unknown section [{top}] in {where}; remove it (known sections: hubspot, store, sync, metrics, spend, nightly).")
        if not isinstance(content, dict):
            raise ConfigError(f"'{top}' in {where} must be a [{top}] table.")
        for key, value in content.items():
            if f"{top}.{key}" in SCHEMA:
                if not isinstance(value, dict):  # not an unknown key: a sub-table written as a value
                    raise ConfigError(f"[metrics] {key} in {where} must be a [metrics.{key}] table, not {value!r}.")
                for sub_key, sub_value in value.items():
                    values[f"metrics.{key}"][sub_key] = _check(f"metrics.{key}", sub_key, sub_value, where)
                continue
            values[top][key] = _check(top, key, value, where)
    csat = values["metrics.csat"]
    if not csat["scale_min"] < csat["scale_max"]:
        raise ConfigError(f"[metrics.csat] scale_min must be below scale_max in {where}.")
    # A threshold outside the scale makes every or no response satisfied.
    if not csat["scale_min"] <= csat["satisfied_min"] <= csat["scale_max"]:
        raise ConfigError(f"[metrics.csat] satisfied_min = {csat['satisfied_min']!r} in {where} must be between "
                          f"scale_min and scale_max ({csat['scale_min']!r} to {csat['scale_max']!r}).")
    return values


def _check(section: str, key: str, value: Any, where: str) -> Any:
    spec = SCHEMA[section].get(key)
    if spec is None:
        known = ", ".join(SCHEMA[section])
        tables = [f"[{name}]" for name in SCHEMA if name.startswith(f"{section}.")]
        if tables:
            known += f", or the table{'s' if len(tables) > 1 else ''} " + " and ".join(tables)
        raise ConfigError(f"Unknown key '{key}' in [{section}] of {where}; remove it or use one of: {known}.")
    types, _default, check, _doc = spec
    # bool is an int subclass in Python; a number key must not accept `true`.
    if isinstance(value, bool) and bool not in types or not isinstance(value, types):
        raise ConfigError(f"[{section}] {key} in {where} must be {_type_name(types)}, not {value!r}.")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"[{section}] {key} = {value!r} in {where} must be a finite number.")
    if check is not None:
        problem = check(value)
        if problem:
            raise ConfigError(f"[{section}] {key} = {value!r} in {where} {problem}.")
    return value


def _validate_spend(content: Any, where: str) -> dict[str, float]:
    if not isinstance(content, dict):
        raise ConfigError(f"'spend' in {where} must be a [spend] table of \"YYYY-MM\" = amount.")
    spend = {}
    for month, amount in content.items():
        if not SPEND_MONTH.match(month):
            raise ConfigError(
                f"[spend] key {month!r} in {where} is not a month; write it as \"YYYY-MM\", e.g. \"2026-10\" = 12000.")
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not 0 <= amount < math.inf:
            raise ConfigError(f"[spend] \"{month}\" in {where} must be an amount of 0 or more, not {amount!r}.")
        spend[month] = float(amount)
    return spend


def _warn_if_token_readable(path: Path, has_secret: bool) -> None:
    if not has_secret or os.name != "posix":
        return
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        warnings.warn(
            f"{path} holds a HubSpot secret and other users can read it; run: chmod 600 {path}",
            stacklevel=3,
        )


def _clean_secret(value: str | None, key: str, where: str) -> str | None:
    """Surrounding whitespace (a trailing newline) is dropped; whitespace inside is refused
    without printing the secret."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if not TOKEN_TEXT.match(value):
        raise ConfigError(f"The HubSpot {key.replace('_', ' ')} in {where} holds a space, line break or other "
                          "character no HubSpot secret has; copy it again as one line.")
    return value


def config_path(option: str | None, env: dict[str, str]) -> Path | None:
    if option:
        return Path(option)
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG])
    default = Path(DEFAULT_CONFIG_NAME)
    return default if default.exists() else None


def _refuse_config_as_store(store_path: str, given_as: str) -> None:
    """A config file named where the store belongs (--db and --config sit side by side) would
    otherwise be reported as a corrupt store, with advice to move it aside."""
    if not os.path.isfile(store_path):  # missing (a new store), a folder or a device: the store's checks speak
        return
    try:
        with open(store_path, "rb") as file:
            if file.read(16) == b"SQLite format 3\0":
                return
            file.seek(0)
            text = file.read(1 << 20)
    except OSError:
        return
    try:
        looks_like_config = bool(tomllib.loads(text.decode("utf-8"))) or store_path.endswith(".toml")
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        looks_like_config = False
    if looks_like_config:
        raise ConfigError(f"{store_path}, given as {given_as}, looks like a config file, not a store; pass it with "
                          f"--config, and give {given_as} the SQLite store's path (default {DEFAULT_DB_PATH}).")


def load_config(config_option: str | None = None, db_option: str | None = None,
                env: dict[str, str] | None = None) -> Config:
    """Build the effective configuration (option > environment > file > default)."""
    env = dict(os.environ) if env is None else env
    path = config_path(config_option, env)
    raw = _read_file(path) if path else {}
    values = _validate(raw, str(path) if path else "the defaults")
    hub = values["hubspot"]
    if path:
        _warn_if_token_readable(path, bool(hub["access_token"] or hub["client_secret"] or hub["refresh_token"]))
    if env.get(ENV_TOKEN):
        hub["access_token"] = env[ENV_TOKEN]
    for key in SECRET_KEYS:
        hub[key] = _clean_secret(hub[key], key, where=ENV_TOKEN if key == "access_token" and env.get(ENV_TOKEN)
                                 else f"[hubspot] {key}")
    if env.get(ENV_BASE_URL):
        hub["base_url"] = env[ENV_BASE_URL]
    # (a stray space from a copy-paste made every request fail, retried for a minute)
    hub["base_url"] = hub["base_url"].strip().rstrip("/")
    if not re.match(r"^https?://[^/\s]+", hub["base_url"]):
        raise ConfigError(f"The HubSpot base URL {hub['base_url']!r} is not an http(s) URL; fix [hubspot] base_url or {ENV_BASE_URL}.")
    store_path = db_option or env.get(ENV_DB) or values["store"]["path"]
    _refuse_config_as_store(store_path, "--db" if db_option else ENV_DB if env.get(ENV_DB) else "[store] path")
    sync = values["sync"]
    metrics = values["metrics"]
    nightly = values["nightly"]
    return Config(
        hubspot=HubSpotSettings(**hub),
        store_path=store_path,
        store_schema=values["store"]["schema"],
        sync=SyncSettings(
            objects=tuple(sync["objects"]),
            extra_properties={k: tuple(v) for k, v in sync["extra_properties"].items()},
            all_properties=sync["all_properties"],
            lookback_seconds=sync["lookback_seconds"],
        ),
        metrics=MetricsSettings(
            timezone=metrics["timezone"],
            customer_object=metrics["customer_object"],
            gross_margin=float(metrics["gross_margin"]),
            deal_pipelines=tuple(str(p) for p in metrics["deal_pipelines"]),
            ticket_pipelines=tuple(str(p) for p in metrics["ticket_pipelines"]),
            churn=ChurnSettings(**values["metrics.churn"]),
            csat=CsatSettings(**values["metrics.csat"]),
            spend=values["spend"],
        ),
        nightly=NightlySettings(periods=tuple(nightly["periods"]), export_path=nightly["export_path"],
                                report_path=nightly["report_path"]),
        source=str(path) if path else None,
    )
