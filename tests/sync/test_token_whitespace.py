"""A token pasted with a line break: trimmed at its ends, refused (unprinted) inside."""

from __future__ import annotations

import os

from click.testing import CliRunner

from hubspot_metrics.cli import cli

from .conftest import TOKEN



def sync_with_config(server, tmp_path, token_toml: str):
    config = tmp_path / "config.toml"
    config.write_text(f'[hubspot]\nbase_url = "{server.url} "\naccess_token = {token_toml}\n'
                      "requests_per_10s = 10000\nsearch_requests_per_second = 10000\n"
                      "[sync]\nobjects = [\"deals\"]\nlookback_seconds = 0\n", encoding="utf-8")
    os.chmod(config, 0o600)
    return CliRunner(env={"HUBSPOT_ACCESS_TOKEN": None, "HUBSPOT_API_BASE_URL": None}).invoke(
        cli, ["--config", str(config), "--db", str(tmp_path / "s.db"), "sync"])


def test_a_token_in_a_multi_line_string_syncs(server, tmp_path):
    result = sync_with_config(server, tmp_path, f'"""\n{TOKEN}\n"""')
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("sync ok: owners ")
    assert TOKEN not in result.output
    assert 401 not in {r.status for r in server.request_log}  # (the portal answers 401 to any other token)


def test_a_token_broken_by_a_line_break_is_refused_before_any_request(server, tmp_path):
    half = len(TOKEN) // 2
    result = sync_with_config(server, tmp_path, f'"""{TOKEN[:half]}\n{TOKEN[half:]}"""')
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (f"Error: The HubSpot access token in [hubspot] access_token holds a space, line break "
                             "or other character no HubSpot secret has; copy it again as one line.\n")
    assert TOKEN[:half] not in result.output and TOKEN[half:] not in result.output
    assert server.request_log == [] and not (tmp_path / "s.db").exists()
