"""hubspot-metrics: HubSpot CRM → SQLite, and the ten CRM KPIs computed from it."""

__version__ = "0.1.0"
