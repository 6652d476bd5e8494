"""A simulated HubSpot portal: seeded realistic CRM data served over HTTP the way HubSpot's
REST API serves it (paging, search, limits, errors and faults), for tests, demos and
benchmarks without a HubSpot account.

    portal = generate_portal(scale=5000, seed=1)
    with PortalServer(portal, token="pat-na1-…") as server:
        HubSpot(access_token="pat-na1-…", host=server.url)
"""

from .faults import Faults
from .generate import generate_portal
from .server import PortalServer, RequestRecord
from .store import Portal

__all__ = ["Faults", "Portal", "PortalServer", "RequestRecord", "generate_portal"]
