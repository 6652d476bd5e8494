"""Configuration: precedence, validation messages, secrets warnings."""

import os
import stat

import pytest
from click.testing import CliRunner

from hubspot_metrics.cli import cli
from hubspot_metrics.config import load_config
from hubspot_metrics.errors import ConfigError


def write(tmp_path, text, name="c.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    os.chmod(path, 0o600)
    return str(path)


def test_defaults_without_any_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(env={})
    assert config.hubspot.base_url == "https://api.hubapi.com"
    assert config.store_path == "hubspot-metrics.db"
    assert config.metrics.timezone is None  # the portal's own zone, resolved from the store (KPI spec v2)
    assert config.metrics.customer_object == "contacts"
    assert config.metrics.churn.mode == "inactivity" and config.metrics.churn.inactivity_days == 365
    assert (config.metrics.csat.scale_min, config.metrics.csat.scale_max, config.metrics.csat.satisfied_min) == (1, 5, 4)
    assert config.sync.objects == ("contacts", "companies", "deals", "tickets", "feedback_submissions")
    assert config.source is None


def test_precedence_option_over_env_over_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, '[hubspot]\nbase_url = "http://file:1"\naccess_token = "file-token"\n[store]\npath = "file.db"\n')
    config = load_config(path, env={})
    assert (config.hubspot.base_url, config.hubspot.access_token, config.store_path) == ("http://file:1", "file-token", "file.db")
    env = {"HUBSPOT_API_BASE_URL": "http://env:2/", "HUBSPOT_ACCESS_TOKEN": "env-token", "HUBSPOT_METRICS_DB": "env.db"}
    config = load_config(path, env=env)
    assert (config.hubspot.base_url, config.hubspot.access_token, config.store_path) == ("http://env:2", "env-token", "env.db")
    config = load_config(path, "option.db", env=env)
    assert config.store_path == "option.db"


def test_config_path_from_env_and_default_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, '[metrics]\ntimezone = "Europe/Berlin"\n')
    assert load_config(env={"HUBSPOT_METRICS_CONFIG": path}).metrics.timezone == "Europe/Berlin"
    write(tmp_path, '[metrics]\ntimezone = "Asia/Tokyo"\n', name="hubspot-metrics.toml")
    assert load_config(env={}).metrics.timezone == "Asia/Tokyo"


def test_example_config_is_valid_and_documents_every_key():
    root = os.path.dirname(os.path.dirname(__file__))
    example = os.path.join(root, "config.example.toml")
    config = load_config(example, env={})
    assert config.metrics.gross_margin == 1.0
    text = open(example, encoding="utf-8").read()
    from hubspot_metrics.config import SCHEMA
    for section, keys in SCHEMA.items():
        for key in keys:
            assert f"{key} =" in text, f"config.example.toml does not document [{section}] {key}"


@pytest.mark.parametrize("text, expected", [
    ('[metrics]\ntimezone = "Mars/Olympus"\n',
     "[metrics] timezone = 'Mars/Olympus' in {path} is not a known IANA time zone; use a name such as 'UTC' or 'Europe/Berlin'."),
    ('[metrics]\ncustomer_object = "leads"\n',
     "[metrics] customer_object = 'leads' in {path} must be one of 'contacts', 'companies'."),
    ('[spend]\n"2026-13" = 100\n',
     "[spend] key '2026-13' in {path} is not a month; write it as \"YYYY-MM\", e.g. \"2026-10\" = 12000."),
    ('[spend]\n"2026-01" = "lots"\n',
     "[spend] \"2026-01\" in {path} must be an amount of 0 or more, not 'lots'."),
    ('[metrics]\ntimezon = "UTC"\n',
     "Unknown key 'timezon' in [metrics] of {path}; remove it or use one of: timezone, customer_object, gross_margin, deal_pipelines, ticket_pipelines, or the tables [metrics.churn] and [metrics.csat]."),
    ('[hubspot]\nrequests_per_10s = "fast"\n',
     "[hubspot] requests_per_10s in {path} must be a whole number, not 'fast'."),
    ('[hubspot]\nrequests_per_10s = true\n',
     "[hubspot] requests_per_10s in {path} must be a whole number, not True."),
    ('[metrics.churn]\nmode = "vibes"\n',
     "[metrics.churn] mode = 'vibes' in {path} must be one of 'inactivity', 'property'."),
    ('[nonsense]\nx = 1\n',
     "Unknown section [nonsense] in {path}; remove it (known sections: hubspot, store, sync, metrics, spend, nightly)."),
    ('[nightly]\nperiods = []\n',
     "[nightly] periods = [] in {path} must list at least one period; "
     "use any of month_to_date, last_month, last_quarter, year_to_date."),
    ('[metrics.csat]\nsatisfied_min = 6\n',
     "[metrics.csat] satisfied_min = 6 in {path} must be between scale_min and scale_max (1 to 5)."),
    ('[metrics.csat]\nscale_min = 0\nscale_max = 10\nsatisfied_min = -1\n',
     "[metrics.csat] satisfied_min = -1 in {path} must be between scale_min and scale_max (0 to 10)."),
    ('[metrics.csat]\nscale_max = 3\n',  # the default satisfied_min 4 is off a 1-3 scale
     "[metrics.csat] satisfied_min = 4 in {path} must be between scale_min and scale_max (1 to 3)."),
    ('[metrics]\nchurn = 5\n',
     "[metrics] churn in {path} must be a [metrics.churn] table, not 5."),
    ('[metrics]\ncsat = "1-5"\n',
     "[metrics] csat in {path} must be a [metrics.csat] table, not '1-5'."),
    ('[store]\nschema = "Sales Team"\n',
     "[store] schema = 'Sales Team' in {path} is not a schema name; use lower-case letters, digits and _ "
     "(at most 63, not starting with pg_)."),
    ('[store]\nschema = "pg_catalog"\n',
     "[store] schema = 'pg_catalog' in {path} is not a schema name; use lower-case letters, digits and _ "
     "(at most 63, not starting with pg_)."),
    ('[metrics\n', None),
])
def test_bad_config_names_the_key_and_the_fix(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    if expected:
        assert str(info.value) == expected.format(path=path)
    else:
        assert str(info.value).startswith(f"Config file {path} is not valid TOML (")


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist; create it from config.example.toml"):
        load_config(str(tmp_path / "nope.toml"), env={})


def test_a_folder_as_config_file_says_to_give_a_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(env={"HUBSPOT_METRICS_CONFIG": str(tmp_path)})
    assert str(info.value) == (f"Config file {tmp_path} is a folder; give the path of a TOML file, "
                               f"e.g. {tmp_path / 'hubspot-metrics.toml'}.")


def test_csat_threshold_on_the_scale_edges_is_accepted(tmp_path):
    path = write(tmp_path, "[metrics.csat]\nscale_min = 1\nscale_max = 5\nsatisfied_min = 5\n")
    assert load_config(path, env={}).metrics.csat.satisfied_min == 5


def test_readable_secret_warns(tmp_path):
    path = write(tmp_path, '[hubspot]\naccess_token = "pat-secret"\n')
    os.chmod(path, 0o644)
    with pytest.warns(UserWarning, match=r"holds a HubSpot secret and other users can read it; run: chmod 600"):
        load_config(path, env={})
    os.chmod(path, 0o600)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_config(path, env={})


def test_cli_bad_config_exits_with_one_sentence(tmp_path):
    path = write(tmp_path, '[metrics]\ncustomer_object = "leads"\n')
    result = CliRunner().invoke(cli, ["--config", path, "status"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.output.strip().splitlines() == [
        f"Error: [metrics] customer_object = 'leads' in {path} must be one of 'contacts', 'companies'."]


@pytest.mark.parametrize("text, expected", [
    ('[spend]\n"2026-10" = inf\n', "[spend] \"2026-10\" in {path} must be an amount of 0 or more, not inf."),
    ('[spend]\n"2026-10" = nan\n', "[spend] \"2026-10\" in {path} must be an amount of 0 or more, not nan."),
    ('[metrics.churn]\nproperty = ""\n',
     "[metrics.churn] property = '' in {path} is not a HubSpot property name; use its internal name, e.g. 'churn_date'."),
    ('[metrics.churn]\nproperty = "churn date"\n',
     "[metrics.churn] property = 'churn date' in {path} is not a HubSpot property name; use its internal name, "
     "e.g. 'churn_date'."),
    ('[metrics]\ndeal_pipelines = [[1], {a=1}]\n',
     "[metrics] deal_pipelines = [[1], {{'a': 1}}] in {path} has [1], which is not a pipeline id; list ids as "
     "strings, e.g. [\"default\", \"12345\"]."),
    ('[metrics]\nticket_pipelines = ["0", ""]\n',
     "[metrics] ticket_pipelines = ['0', ''] in {path} has '', which is not a pipeline id; list ids as strings, "
     "e.g. [\"default\", \"12345\"]."),
    ('[hubspot]\nsearch_requests_per_second = 0.5\n',
     "[hubspot] search_requests_per_second in {path} must be a whole number, not 0.5."),
    ('[hubspot]\nsearch_requests_per_second = 0\n',
     "[hubspot] search_requests_per_second = 0 in {path} must be a whole number of 1 or more."),
    ('[hubspot]\ntimeout_seconds = inf\n', "[hubspot] timeout_seconds = inf in {path} must be a finite number."),
    ('[hubspot]\ntimeout_seconds = 1e300\n',
     "[hubspot] timeout_seconds = 1e+300 in {path} must be more than 0 and at most 3600 seconds."),
    ('[metrics]\ngross_margin = nan\n', "[metrics] gross_margin = nan in {path} must be a finite number."),
    ('[metrics.churn]\ninactivity_days = inf\n', "[metrics.churn] inactivity_days = inf in {path} must be a finite number."),
])
def test_values_that_would_break_a_run_are_refused_naming_the_key(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert str(info.value) == expected.format(path=path)


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + b'[metrics]\ntimezone = "Europe/Berlin"\n')
    assert load_config(str(path), env={}).metrics.timezone == "Europe/Berlin"


def test_base_url_and_secrets_lose_surrounding_whitespace(tmp_path):
    # A TOML multi-line string keeps its last line break: the token must not carry it.
    path = write(tmp_path, '[hubspot]\nbase_url = " http://127.0.0.1:9/ "\naccess_token = """\npat-na1-abc\n"""\n'
                           'client_secret = "  s3cret\\t"\n')
    hub = load_config(path, env={}).hubspot
    assert (hub.base_url, hub.access_token, hub.client_secret) == ("http://127.0.0.1:9", "pat-na1-abc", "s3cret")
    hub = load_config(path, env={"HUBSPOT_ACCESS_TOKEN": " pat-env\n", "HUBSPOT_API_BASE_URL": "http://h:1/ "}).hubspot
    assert (hub.base_url, hub.access_token) == ("http://h:1", "pat-env")


@pytest.mark.parametrize("source", ["file", "env"])
def test_a_token_with_whitespace_inside_is_refused_without_printing_it(tmp_path, source):
    secret = "pat-na1-1111\n2222"
    if source == "file":
        path = write(tmp_path, '[hubspot]\naccess_token = """pat-na1-1111\n2222"""\n')
        env, where = {}, "[hubspot] access_token"
        args = ["--config", path]
    else:
        env, where, args = {"HUBSPOT_ACCESS_TOKEN": secret}, "HUBSPOT_ACCESS_TOKEN", []
    result = CliRunner(env=env).invoke(cli, [*args, "--db", str(tmp_path / "s.db"), "sync"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (f"Error: The HubSpot access token in {where} holds a space, line break or other "
                             "character no HubSpot secret has; copy it again as one line.\n")
    assert "1111" not in result.output and not (tmp_path / "s.db").exists()


def test_config_example_shows_every_key_of_the_schema_with_its_default_and_doc_line():
    """SCHEMA declares each key once; the example file must show exactly those keys, with the
    same defaults (a key without a default appears commented out) and the same doc lines, and
    the settings classes take their defaults from SCHEMA."""
    import re
    import tomllib
    from pathlib import Path

    from dataclasses import replace

    from hubspot_metrics.config import SCHEMA, Config

    text = (Path(__file__).parent.parent / "config.example.toml").read_text(encoding="utf-8")
    parsed = tomllib.loads(text)
    commented: dict[str, set[str]] = {}
    docs: dict[str, dict[str, str]] = {}  # the comment beside each key, with its continuation lines
    section = last = None
    for line in text.splitlines():
        header = re.match(r"^\[([\w.]+)\]", line)
        if header:
            section, last = header.group(1), None
            continue
        key = re.match(r"^(# )?(\w+) = .*?\s{2,}# (.*)$", line)
        if key:
            if key.group(1):
                commented.setdefault(section, set()).add(key.group(2))
            docs.setdefault(section, {})[key.group(2)] = key.group(3).strip()
            last = key.group(2)
            continue
        more = re.match(r"^\s{20,}# (.*)$", line)
        if more and last:
            docs[section][last] += " " + more.group(1).strip()
        else:
            last = None
    assert docs == {name: {k: spec[3] for k, spec in keys.items()} for name, keys in SCHEMA.items()}

    def table(name):
        value = parsed
        for part in name.split("."):
            value = value[part]
        return {k: v for k, v in value.items() if not isinstance(v, dict) or k == "extra_properties"}

    shown = {name: table(name) for name in SCHEMA}
    assert shown == {name: {k: spec[1] for k, spec in keys.items() if spec[1] is not None}
                     for name, keys in SCHEMA.items()}
    assert commented == {name: {k for k, spec in keys.items() if spec[1] is None}
                         for name, keys in SCHEMA.items() if any(spec[1] is None for spec in keys.values())}
    assert load_config(str(Path(__file__).parent.parent / "config.example.toml"), env={}) == replace(
        Config(), source=str(Path(__file__).parent.parent / "config.example.toml"))


def test_a_postgresql_url_and_its_schema_come_from_option_environment_or_file(tmp_path):
    path = write(tmp_path, '[store]\npath = "postgresql://file@db/crm"\nschema = "team_a"\n')
    assert (load_config(path, env={}).store_path, load_config(path, env={}).store_schema) == (
        "postgresql://file@db/crm", "team_a")
    env = {"HUBSPOT_METRICS_DB": "postgresql://env@db/crm"}
    assert load_config(path, env=env).store_path == "postgresql://env@db/crm"
    assert load_config(path, "postgresql://option@db/crm", env=env).store_path == "postgresql://option@db/crm"
    assert load_config(None, env={}).store_schema == "hubspot_metrics"
