"""The recording script on a real redis-server: any batch mixing valid and invalid outcomes
leaves Redis either fully updated (every valid outcome recorded, every invalid one a dead
letter) or untouched (a batch for another incarnation of the run)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common import keys as k
from common.keys import RunKeys
from monitor.follow.reader import CHECKPOINT
from sender.recorder import RECORD

TOTAL = 6  # the run's messages; seqs 0..5 are the run's


@pytest.fixture
def server(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


def open_run(r: redis.Redis, keys: RunKeys) -> tuple[str, list[str]]:
    """A run of TOTAL messages, all read by one consumer (pending): its id and entry ids."""
    run_id = uuid.uuid4().hex
    meta = {k.META_ID: run_id, k.META_TOTAL: TOTAL, k.META_PRODUCED: TOTAL, k.META_DONE: 1}
    r.hset(keys.meta, mapping=meta)  # type: ignore[arg-type]
    r.xgroup_create(keys.outbox, k.GROUP, id="0", mkstream=True)
    for seq in range(TOTAL):
        r.xadd(keys.outbox, {"seq": seq, "to": "+15551234567", "body": "x", "created": 1})
    read: Any = r.xreadgroup(k.GROUP, "gw", {keys.outbox: ">"})
    return run_id, [eid for eid, _ in read[0][1]]


# One outcome line: (kind, seq text, number text, valid?) -> the line and whether it is valid.
SEQS = st.one_of(
    st.integers(0, TOTAL - 1).map(lambda s: (str(s), True)),
    st.sampled_from(
        [(str(TOTAL), False), (str(10**12), False), ("-1", False), ("x", False), ("", False)]
    ),
)
NUMBERS = st.one_of(
    st.floats(0, 10, allow_nan=False).map(lambda x: (f"{x:.6f}", True)),
    st.sampled_from([("nan", False), ("inf", False), ("-inf", False), ("abc", False)]),
)
KINDS = st.sampled_from(["ok", "fail", "abandon", "malformed", "junk"])
SENDERS = st.sampled_from(["gw-1", "gw-2", "host-7 gw 3"])  # a batch mixes a process's senders


@st.composite
def outcome(draw: st.DrawFn, ids: list[str]) -> tuple[str, str, bool]:
    """(kind, line, recordable as is)."""
    kind = draw(KINDS)
    (seq, seq_ok), (duration, d_ok), (latency, l_ok) = draw(SEQS), draw(NUMBERS), draw(NUMBERS)
    entry = ids[int(seq)] if seq_ok else draw(st.sampled_from(ids))
    line = "\t".join([kind, draw(SENDERS), entry, seq, "1", duration, "0.0", "1.0", latency])
    if kind == "junk":
        junk = [line, "ok\tgw-1\tnot-an-id\t1\t1\t1\t0\t1\t1", "x"]
        return kind, draw(st.sampled_from(junk)), False
    valid = {
        "ok": seq_ok and d_ok and l_ok,
        "fail": seq_ok and d_ok,
        "abandon": seq_ok and d_ok,  # any kind: an outcome in another form is a dead letter
        "malformed": False,  # recorded as a dead letter, as it says
    }[kind]
    return kind, line, valid


def snapshot(r: redis.Redis, keys: RunKeys) -> dict[str, Any]:
    return {key: r.dump(key) for key in keys.all()}


# Every state a run's keys can be in besides whole, and the reply that refuses a batch:
# another incarnation of the run, a destroyed group, a deleted outbox, a key of another
# type (a hand-made key, or a name reused after eviction). None: the run is whole.
DAMAGES: dict[str | None, tuple[Any, str]] = {
    None: (lambda r, keys: None, ""),
    "another run": (lambda r, keys: None, "NORUN"),
    "meta gone": (lambda r, keys: r.delete(keys.meta), "NORUN"),
    "group destroyed": (lambda r, keys: r.xgroup_destroy(keys.outbox, k.GROUP), "NOGROUP"),
    "outbox deleted": (lambda r, keys: r.delete(keys.outbox), "NOGROUP"),
    "results": (lambda r, keys: (r.delete(keys.results), r.set(keys.results, "x")), "WRONGTYPE"),
    "dead": (lambda r, keys: (r.delete(keys.dead), r.hset(keys.dead, "a", "b")), "WRONGTYPE"),
    "bitmap": (
        lambda r, keys: (r.delete(keys.delivered), r.rpush(keys.delivered, "x")),
        "WRONGTYPE",
    ),
}


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), damage=st.sampled_from(list(DAMAGES)))
def test_any_batch_is_applied_whole_or_not_at_all(
    server: redis.Redis, data: st.DataObject, damage: str | None
) -> None:
    """Whatever the batch and whatever state the run's keys are in, the batch is recorded
    whole, or refused with nothing written (issue 24, item 3: Redis does not roll a
    script back, so every check comes before the first write)."""
    keys = RunKeys(f"prop-{uuid.uuid4().hex[:10]}")
    try:
        run_id, ids = open_run(server, keys)
        batch = data.draw(st.lists(outcome(ids), min_size=1, max_size=12))
        script = server.register_script(RECORD)
        harm, reply = DAMAGES[damage]
        harm(server, keys)
        before = snapshot(server, keys)
        lines = "\n".join(x[1] for x in batch)
        given_id = "another" if damage == "another run" else run_id
        args: list[str | int] = [given_id, "gw", "b-1", lines, 8]
        try:
            flags = str(script(keys=_keys(keys), args=args))
        except redis.ResponseError as exc:
            assert damage is not None and str(exc).startswith(reply), exc
            assert snapshot(server, keys) == before  # untouched
            return
        assert damage is None
        _assert_applied(server, keys, batch, flags)
    finally:
        server.delete(*keys.all())


def _keys(keys: RunKeys) -> list[str]:
    return [keys.outbox, keys.results, keys.delivered, keys.meta, keys.dead]


def _assert_applied(
    r: redis.Redis, keys: RunKeys, batch: list[tuple[str, str, bool]], flags: str
) -> None:
    assert len(flags) == len(batch)
    recorded = [(kind, int(line.split("\t")[3])) for kind, line, valid in batch if valid]
    dead = [line for kind, line, valid in batch if not valid or kind == "malformed"]
    settled: set[int] = set()  # what the script must do, outcome by outcome
    delivered = abandoned = duplicates = 0
    for kind, seq in recorded:
        if kind in ("ok", "abandon") and seq in settled:
            duplicates += kind == "ok"
        elif kind == "ok":
            delivered, settled = delivered + 1, settled | {seq}
        elif kind == "abandon":
            abandoned, settled = abandoned + 1, settled | {seq}
    meta: Any = r.hgetall(keys.meta)
    assert int(meta.get(k.META_DELIVERED, 0)) == delivered
    assert int(meta.get(k.META_ABANDONED, 0)) == abandoned
    assert int(meta.get(k.META_DEAD, 0)) == len(dead)
    assert int(meta.get(k.META_DUPLICATES, 0)) == duplicates
    assert int(r.bitcount(keys.delivered)) == len(settled)
    attempts = sum(1 for kind, _ in recorded if kind in ("ok", "fail"))
    assert r.xlen(keys.results) == attempts
    entries: Any = r.xrange(keys.results)
    dups = [fields for _, fields in entries if "dup" in fields]
    assert len(dups) == duplicates
    attempted = [line.split("\t") for kind, line, valid in batch if valid and kind != "abandon"]
    assert [f["sender"] for _, f in entries] == [line[1] for line in attempted]
    abandon_lines = sum(1 for kind, _ in recorded if kind == "abandon")
    assert r.xlen(keys.dead) == len(dead) + abandon_lines
    assert flags.count("1") == len(batch) - duplicates - _late(recorded) - _bad(batch)


def _late(recorded: list[tuple[str, int]]) -> int:
    """Abandonments of a message settled before (flag 0)."""
    settled: set[int] = set()
    late = 0
    for kind, seq in recorded:
        if kind in ("ok", "abandon"):
            late += kind == "abandon" and seq in settled
            settled.add(seq)
    return late


def _bad(batch: list[tuple[str, str, bool]]) -> int:
    """Lines that name no entry (flag 0): the junk ones."""
    return sum(1 for kind, _, _ in batch if kind == "junk")


def test_out_of_memory_refuses_a_batch_whole_and_a_monitor_can_still_trim(
    server: redis.Redis,
) -> None:
    """At maxmemory Redis refuses the recording script at its first write: nothing of the
    batch is written. The checkpoint script trims first, so it still runs and frees memory."""
    keys = RunKeys(f"oom-{uuid.uuid4().hex[:10]}")
    run_id, ids = open_run(server, keys)
    for seq in range(3):
        server.xadd(keys.results, {"seq": seq, "sender": "gw", "attempt": 1, "ok": 0})
    lines = "\n".join(f"ok\tgw\t{ids[s]}\t{s}\t1\t0.1\t0.0\t1.0\t0.5" for s in range(TOTAL))
    before = snapshot(server, keys)
    server.config_set("maxmemory", 1)
    try:
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            server.register_script(RECORD)(keys=_keys(keys), args=[run_id, "gw", "b", lines, 8])
        assert snapshot(server, keys) == before
        last: Any = server.xrange(keys.results)[-1][0]  # type: ignore[index]
        saved = server.register_script(CHECKPOINT)(
            keys=[keys.meta, keys.monitor, keys.results], args=[run_id, last, "{}", "1"]
        )
        assert saved == 1 and server.xlen(keys.results) == 1  # trimmed below the last
    finally:
        server.config_set("maxmemory", 0)
        server.delete(*keys.all())


@pytest.mark.parametrize(
    "first_seq", ["NaN", "nan", "inf", "-inf", "", "1e30", "\xff", str(10**30)]
)
def test_a_hand_made_entry_first_in_the_outbox_never_breaks_a_batch(
    server: redis.Redis, first_seq: str
) -> None:
    """The outbox's first entry tells the bitmap how far to compact: an entry injected by
    hand, with a seq of NaN or inf, reached the compaction once the run's own were acked
    and failed it after the batch's writes (bits set, counters not: delivered 43 against
    50 bits). It is not the producer's: compaction waits."""
    keys = RunKeys(f"first-{uuid.uuid4().hex[:10]}")
    run_id, ids = open_run(server, keys)
    server.xadd(keys.outbox, {"seq": first_seq})  # after the run's six
    lines = "\n".join(f"ok\tgw\t{ids[s]}\t{s}\t1\t0.1\t0.0\t1.0\t0.5" for s in range(TOTAL))
    try:
        flags = server.register_script(RECORD)(keys=_keys(keys), args=[run_id, "gw", "b", lines, 1])
        assert flags == "1" * TOTAL
        meta: Any = server.hgetall(keys.meta)
        assert int(meta[k.META_DELIVERED]) == TOTAL
        base = int(meta.get(k.META_DELIVERED_BASE, 0))
        assert base + int(server.bitcount(keys.delivered)) == TOTAL
    finally:
        server.delete(*keys.all())
