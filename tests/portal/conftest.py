"""Fixtures for the simulated portal's tests: a small portal, a server on a real socket, and a
raw HTTP client that shows exactly what went over the wire."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pytest

from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.portal.formats import to_ms

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
NOW_MS = to_ms(NOW)


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: Any

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def rate_headers(self) -> dict[str, str]:
        return {k: v for k, v in self.headers.items() if k.lower().startswith("x-hubspot-ratelimit")}


def call(server: PortalServer, method: str, path: str, body: Any = None, token: str | None = TOKEN,
         headers: dict[str, str] | None = None, form: dict[str, str] | None = None) -> Reply:
    """One request on a fresh connection; the JSON body parsed."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    data = None
    if form is not None:
        from urllib.parse import urlencode
        data = urlencode(form).encode()
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=sent)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode()
    return Reply(response.status, response.headers, parsed)


def get(server: PortalServer, path: str, **kwargs: Any) -> Reply:
    return call(server, "GET", path, **kwargs)


def post(server: PortalServer, path: str, body: Any, **kwargs: Any) -> Reply:
    return call(server, "POST", path, body, **kwargs)


def live_ids(portal, object_type: str) -> list[str]:
    return [r["id"] for r in portal.records(object_type)]


@pytest.fixture
def portal():
    return generate_portal(scale=400, seed=3, now=NOW)


@pytest.fixture
def server(portal):
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as srv:
        yield srv


SANDBOX = [sys.executable, "-c", "from hubspot_metrics.portal.cli import sandbox; sandbox()"]


@contextmanager
def running_sandbox(*args: str):
    """A sandbox in its own process: (the process, the URL it printed, the lines it printed)."""
    proc = subprocess.Popen(SANDBOX + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        while not lines or "Ctrl-C" not in lines[-1]:
            line = proc.stdout.readline()
            assert line, f"sandbox exited early: {proc.stderr.read()}"
            lines.append(line.strip())
        url = next(line.split("=", 1)[1] for line in lines if line.startswith("export HUBSPOT_API_BASE_URL="))
        yield proc, url, lines
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.communicate(timeout=15)
