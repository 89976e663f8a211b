"""Lua scripts: each a ``.lua`` file next to its role, with a KEYS/ARGV legend at the top.

``load`` prepends the names the script shares with Python (meta fields, message and result
fields) as Lua tables, so every name is defined once, in ``common``:

    META.delivered  -> 'delivered'        (common.keys)
    MSG.seq         -> 'seq'              (common.codec)
    RESULT.latency  -> 'latency'          (common.results)
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources

from common import codec, keys, results


def _table(name: str, names: Mapping[str, str]) -> str:
    items = ", ".join(f"{key} = '{value}'" for key, value in names.items())
    return f"local {name} = {{{items}}}"


def prelude() -> str:
    """The shared names as Lua tables (one line each)."""
    meta = {field: field for field in keys.META_FIELDS}
    message = {field: field for field in codec.MESSAGE_FIELDS}
    result = {field: field for field in (*results.FIELDS, *results.EXTRAS)}
    dead = {field: field for field in results.DEAD_FIELDS}
    return "\n".join(
        [
            "-- Names shared with Python (common.scripts.prelude).",
            _table("META", meta),
            _table("MSG", message),
            _table("RESULT", result),
            _table("DEAD", dead),
            f"local GROUP, BATCH_TAG = '{keys.GROUP}', '{keys.META_BATCH_TAG}'",
            "",
        ]
    )


def load(package: str, name: str) -> str:
    """The script ``name`` of ``package`` (e.g. ``("sender", "record.lua")``), with the
    shared names before it."""
    text = resources.files(package).joinpath(name).read_text(encoding="utf-8")
    return prelude() + text
