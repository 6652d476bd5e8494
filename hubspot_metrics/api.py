"""The Python API for notebooks: the store's KPIs, history and tables as pandas DataFrames.

    import hubspot_metrics as hm
    m = hm.open()                       # the store and config the CLI would use
    m.kpis("2025-Q3")                   # index key; value, n, reason, unit, label
    m.kpis("2025-Q3", by="owner")       # a row per owner, a column per KPI
    m.history(grain="month", periods=12)
    m.explain("churn_rate", "2025-Q3")  # the records behind a KPI: exactly the rows `explain` prints
    m.table("deals")

Each method calls the application function the CLI calls (`app.kpis`, `app.history`, ...)
and only turns its answer into a DataFrame, so a number here is the number the CLI prints.
pandas is imported on the first DataFrame, never by `import hubspot_metrics` or `open`. A
problem the user can fix raises the CLI's one-sentence error, a `hubspot_metrics.errors.UserError`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from hubspot_metrics import app
from hubspot_metrics.config import Config, load_config
from hubspot_metrics.metrics.catalog import LABELS

if TYPE_CHECKING:
    import pandas as pd

KPI_COLUMNS = ("value", "n", "reason", "unit", "label")
# What a period's KPIs say about the period itself; kept in each frame's `attrs`.
PERIOD_FIELDS = ("period", "start", "end", "as_of", "partial", "timezone", "currency", "warnings")


def open(db: str | os.PathLike | None = None, *, config: str | os.PathLike | None = None) -> "Metrics":
    """The store at `db` (else $HUBSPOT_METRICS_DB, else [store] path) with the config file
    `config` (else $HUBSPOT_METRICS_CONFIG, else ./hubspot-metrics.toml if present), exactly as
    the CLI's --db and --config resolve. Fails in one sentence when the store is missing or was
    never synced."""
    settings = load_config(None if config is None else os.fspath(config), None if db is None else os.fspath(db))
    with app.open_synced_store(settings):
        pass
    return Metrics(settings)


class Metrics:
    """One store and its configuration; every method reads the store afresh."""

    def __init__(self, config: Config):
        self.config = config

    def __repr__(self) -> str:
        return f"<hubspot_metrics.Metrics store={self.config.store_path!r}>"

    def kpis(self, period: str | None = None, *, since: str | None = None, until: str | None = None,
             by: str | None = None, keys: Sequence[str] | None = None) -> "pd.DataFrame":
        """The KPIs of a period (as `kpis --period`, or `since`/`until` as --since/--until).

        Without `by`: a row per KPI key (index `key`) with value, n, reason, unit and label.
        With `by` ("owner", "pipeline", "source"): a row per segment (index: the segment id,
        None for records without one) with its `label` and `n`, then a column per KPI (all of
        them, or `keys`) holding its value (NaN for no value; `kpis --format json` has the
        reasons). The period's bounds, time zone, currency and warnings are in `.attrs`."""
        result = app.kpis(self.config, period=period, since=since, until=until, by=by,
                          keys=list(keys) if keys is not None else None)
        if by is None:
            frame = self._frame(("key", *KPI_COLUMNS), [(key, k["value"], k["n"], k["reason"], k["unit"], LABELS[key])
                                                        for key, k in result["kpis"].items()], index="key")
            frame = frame.astype({"value": "float64", "n": "int64"})
        else:
            keys_ = list(result["kpis"])
            rows = [(g["key"], g["label"], g["n"], *(g["kpis"][k]["value"] for k in keys_))
                    for g in result["breakdown"]["groups"]]
            frame = self._frame((by, "label", "n", *keys_), rows, index=by)
            frame = frame.astype({"n": "int64", **{key: "float64" for key in keys_}})
        frame.attrs.update({field: result[field] for field in PERIOD_FIELDS})
        return frame

    def history(self, grain: str = "month", periods: int = 12, *, wide: bool = False) -> "pd.DataFrame":
        """KPI history: exactly the rows and numbers `export --grain --periods [--wide]` writes
        (each closed period from its latest snapshot under today's definitions, else computed)."""
        table = app.history(self.config, grain=grain, periods=periods, wide=wide)
        frame = self._frame(table.columns, table.rows)
        numeric = [c for c in table.columns if c not in ("period", "start", "end", "key", "reason", "unit", "currency",
                                                         "computed_at", "source", "partial")]
        for column in numeric:
            frame[column] = frame[column].astype("int64" if column == "n" else "float64")
        return frame

    def explain(self, key: str, period: str | None = None, *, since: str | None = None, until: str | None = None,
                by: str | None = None, segment: str | None = None, all: bool = False) -> "pd.DataFrame":
        """The records behind one KPI: exactly the rows `explain KEY --period P [--all]` prints,
        in its order and columns (one per record its `n` counts; `all=True` adds those the rule
        left out, each with a `reason`). The KPI entry and the period's facts are in `.attrs`."""
        found = app.explain(self.config, key, period=period, since=since, until=until, by=by, segment=segment,
                            include_all=all)
        frame = self._frame(found.columns, ([row.get(c) for c in found.columns] for row in found.rows))
        frame.attrs.update({k: v for k, v in found.as_dict().items() if k not in ("columns", "rows")})
        return frame

    def table(self, name: str) -> "pd.DataFrame":
        """A synced table (README "Store layout"), typed: instants as tz-aware UTC datetimes,
        numbers as float64, booleans as the nullable boolean dtype, ids and text as strings.
        A value HubSpot sent that did not parse (listed in `value_issues`) reads as NaT or NaN."""
        import pandas as pd

        stored = app.table(self.config, name)
        frame = pd.DataFrame.from_records(stored.rows, columns=stored.columns)
        for column, kind in stored.kinds.items():
            frame[column] = _typed(pd, frame[column], kind)
        return frame

    @staticmethod
    def _frame(columns: Iterable[str], rows: Iterable[Sequence[Any]], index: str | None = None) -> "pd.DataFrame":
        """A DataFrame of `rows` under `columns` (e.g. an outcome's `.columns` and `.rows`)."""
        import pandas as pd

        frame = pd.DataFrame.from_records(list(rows), columns=list(columns))
        return frame.set_index(index) if index else frame


def _typed(pd, column: "pd.Series", kind: str) -> "pd.Series":
    if kind == "datetime":
        return pd.to_datetime(column, utc=True, errors="coerce", format="ISO8601")
    if kind == "number":
        return pd.to_numeric(column, errors="coerce").astype("float64")
    if kind == "bool":
        return column.map({1: True, 0: False}, na_action="ignore").astype("boolean")
    if kind == "id":
        return column.map(_id_text, na_action="ignore").astype("string")
    return column.astype("string")


def _id_text(value) -> str:
    # An id that went through SQLite's REAL affinity (hs_object_id 123.0) is still the id 123.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
