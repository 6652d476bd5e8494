"""A store synced once from a small generated portal, shared by the tests that only read it."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from hubspot_metrics import app
from hubspot_metrics.client import HubSpotClient, RunStats
from hubspot_metrics.portal import PortalServer, generate_portal
from tests.sync.conftest import TOKEN, make_config

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def synced_store(tmp_path_factory) -> str:
    """The path of a store synced from a 600-contact portal whose clock stands at NOW."""
    path = tmp_path_factory.mktemp("synced") / "store.db"
    with PortalServer(generate_portal(scale=600, seed=5, now=NOW), token=TOKEN, requests_per_10s=None,
                      search_per_second=None) as server:
        config = make_config(server, path)
        app.sync(config, client=HubSpotClient(config.hubspot, stats=RunStats(), sleep=lambda s: None))
    return str(path)
