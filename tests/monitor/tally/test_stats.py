"""Counting results into totals (monitor/tally/stats.py)."""

from __future__ import annotations

import json

import pytest

from common.results import Result
from monitor.figures.report import build
from monitor.tally.stats import Stats
from tests.monitor.support import (
    NOW,
    sample_snapshot,
)


def _raw_entries() -> list[tuple[str, list[str]]]:
    """Results as senders write them: every kind (ok, failed, duplicate), three senders."""
    entries = []
    for i in range(300):
        sender, kind = f"gw-{'abc'[i % 3]}", i % 5
        fields = ["seq", str(i), "sender", sender, "attempt", "1", "ok", "0" if kind == 0 else "1"]
        fields += ["duration", f"{0.01 * (i % 7):.6f}", "ts", f"{NOW - 300 + i:.6f}"]
        if kind == 1:
            fields += ["dup", "1"]
        elif kind > 1:
            fields += ["latency", f"{0.1 + i / 100:.6f}"]
        entries.append((f"{i}-0", fields))
    return entries


def _summary(stats: Stats) -> dict[str, object]:
    return {
        "sent": stats.sent,
        "failed": stats.failed,
        "dup": stats.duplicates,
        "attempts": stats.attempts,
        "avg": round(stats.avg_attempt_time, 9),
        "p50": stats.latency.quantile(0.5),
        "p99": stats.latency.quantile(0.99),
        "last_ts": stats.last_ts,
        "per_sender": {
            name: (s.sent, s.failed, s.duplicates, s.last_ts) for name, s in stats.senders.items()
        },
    }


def test_undecoded_entries_count_as_decoded_ones() -> None:
    entries = _raw_entries()
    undecoded = [(eid.encode(), [x.encode() for x in fields]) for eid, fields in entries]
    decoded, raw = Stats(), Stats()
    decoded.apply_entries(entries)
    raw.apply_entries(undecoded)
    assert _summary(raw) == _summary(decoded)
    assert set(raw.senders) == {"gw-a", "gw-b", "gw-c"}  # names come out as text
    reordered = Stats()  # fields reversed pairwise: the field-by-field path decodes too
    for eid, flat in undecoded:
        pairs = list(zip(flat[::2], flat[1::2], strict=True))[::-1]
        reordered.apply_entries([(eid, [x for pair in pairs for x in pair])])
    assert _summary(reordered) == _summary(raw)


def test_raw_entries_in_any_field_order_count_the_same() -> None:
    entries = _raw_entries()
    fast = Stats()
    fast.apply_entries(entries)
    reordered = Stats()  # fields reversed pairwise, and as dicts: the field-by-field path
    for i, (eid, flat) in enumerate(entries):
        pairs = list(zip(flat[::2], flat[1::2], strict=True))[::-1]
        fields = dict(pairs) if i % 2 else [x for pair in pairs for x in pair]
        reordered.apply_entries([(eid, fields)])
    assert _summary(fast) == _summary(reordered)
    assert (fast.sent, fast.failed, fast.duplicates) == (180, 60, 60)
    assert fast.last_ts == NOW - 1


@pytest.mark.parametrize(
    "junk",
    [
        ["duration", "nan"],
        ["duration", "inf"],
        ["duration", "-1"],
        ["ts", "abc"],
        ["latency", "-inf"],
        ["sender", b"\xff\xfe".decode("latin-1")],
    ],
)
def test_entries_no_sender_wrote_are_ignored_not_fatal(junk: list[str]) -> None:
    entries = _raw_entries()
    eid, fields = entries[12]  # a success with a latency: every field present
    bad = list(fields)
    at = bad.index(junk[0]) if junk[0] in bad else len(bad)
    bad[at : at + 2] = junk
    clean, mixed = Stats(), Stats()
    clean.apply_entries(entries[:12] + entries[13:])
    mixed.apply_entries([*entries[:12], (eid, bad), *entries[13:]])
    expected_ignored = 0 if junk[0] == "sender" else 1
    assert mixed.ignored == expected_ignored
    if expected_ignored:
        assert _summary(mixed) == _summary(clean)
    else:  # an odd but valid name is counted, under its own name
        assert mixed.sent == clean.sent + 1


def _late_entries(lates: list[float]) -> list[tuple[str, list[str]]]:
    """Results in the senders' layout, attempt i of gw-a ending lates[i] s late."""
    return [
        (f"{i}-0", Result(i, "gw-a", 1, True, 0.1, NOW - 10 + i / 100, 1.0, late=late).fields())
        for i, late in enumerate(lates)
    ]


def test_lateness_is_counted_merged_and_checkpointed() -> None:
    """Each attempt's lateness (simulated s) goes into its sender's histogram, on the
    fast path and entry by entry alike; partitions merge it; the checkpoint keeps it."""
    lates = [0.001] * 98 + [0.5, 0.6]
    fast = Stats()
    fast.apply_entries(_late_entries(lates))
    one_by_one = Stats()
    for i, late in enumerate(lates):
        one_by_one.apply(Result(i, "gw-a", 1, True, 0.1, NOW, 1.0, late=late))
    for stats in (fast, one_by_one):
        seen = stats.senders["gw-a"]
        assert seen.lateness.count == 100 and seen.avg_late == pytest.approx(sum(lates) / 100)
        assert seen.lateness.quantile(0.5) == pytest.approx(0.001, rel=0.02)
        assert seen.lateness.quantile(0.99) == pytest.approx(0.5, rel=0.02)
    merged = Stats.merged([fast, one_by_one])
    assert merged.senders["gw-a"].lateness.count == 200
    resumed = Stats.from_dict(json.loads(json.dumps(fast.to_dict())))
    assert resumed.senders["gw-a"].lateness.to_dict() == fast.senders["gw-a"].lateness.to_dict()


def test_a_checkpoint_without_lateness_is_read_and_its_lateness_unknown() -> None:
    """A checkpoint saved before lateness had a histogram: read as before, its mean kept,
    its percentiles unknown (they would cover only the attempts counted since)."""
    stats = Stats()
    stats.apply_entries(_late_entries([0.002] * 10))
    old = stats.to_dict()
    del old["senders"]["gw-a"]["lateness"]
    resumed = Stats.from_dict(old)
    resumed.apply_entries(_late_entries([0.002] * 5))
    rep = build(sample_snapshot(stats=resumed, senders={}))
    assert rep.avg_lateness == pytest.approx(0.002)
    assert rep.lateness is None and rep.senders[0].lateness is None
    assert rep.senders[0].avg_lateness == pytest.approx(0.002)
