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

# Every write checks the run's incarnation first ('' for a run made before runs had ids).
SAME_RUN = """local function same_run(meta, run_id)
  local id = redis.call('HGET', meta, META.id)
  if id then return id == run_id end
  return run_id == '' and redis.call('EXISTS', meta) == 1
end
local function norun() return redis.error_reply('NORUN run meta is gone or was reset') end"""


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
            SAME_RUN,
            "",
        ]
    )


def load(package: str, name: str) -> str:
    """The script ``name`` of ``package`` (e.g. ``("sender", "record.lua")``), with the
    shared names before it."""
    text = resources.files(package).joinpath(name).read_text(encoding="utf-8")
    return prelude() + text
