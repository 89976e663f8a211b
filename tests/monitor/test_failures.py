"""The failures table (issue 25, "Reports and history"): the dead stream counted by kind
and reason at the end of a run, in bounded memory, and shown in the final text, the JSON
summary, the HTML report, the CSV files and ``sms-sim show``/``compare``."""

from __future__ import annotations

import asyncio
import io
import json
from dataclasses import replace
from html import escape
from pathlib import Path

import pytest
from redis.asyncio import Redis

from common.connection import connect
from common.keys import RunKeys
from common.run import RunState, read_state
from launcher.runs_text import compare_text, show_text
from launcher.simulate import plan, simulate
from monitor.figures.report import build
from monitor.follow import dead
from monitor.tally.failures import (
    ABANDONED,
    DEAD_LETTER,
    OTHER,
    UNDELIVERABLE,
    Failure,
    Reasons,
    grouped,
    kind_of,
)
from monitor.views.history import StoredRun
from monitor.views.html import report_html
from monitor.views.json_summary import summary
from monitor.views.live import summary_table
from monitor.views.plain import PlainView, final_text
from tests.monitor.support import NOW, recorded, sample_snapshot
from tests.roles import produce_now, send_all, watch


def test_kinds_come_from_the_senders_reasons_or_the_entrys_own_kind() -> None:
    assert kind_of("abandoned after 5 attempts") == ABANDONED
    assert kind_of("undeliverable number (permanent failure)") == UNDELIVERABLE
    assert kind_of("malformed: seq 7 outside the run (0..4)") == DEAD_LETTER
    assert kind_of("whatever", named="abandon") == ABANDONED
    assert kind_of("abandoned after 2 attempts", named="unknown-kind") == ABANDONED


def test_reasons_are_grouped_with_numbers_out_of_dead_letters() -> None:
    assert grouped(DEAD_LETTER, "malformed: seq 123 outside the run (0..99)") == (
        "malformed: seq N outside the run (N..N)"
    )
    assert grouped(DEAD_LETTER, "malformed: created time 1.7e+09: before the run or to come") == (
        "malformed: created time N: before the run or to come"
    )
    line = "cannot record: ok\tgw-1\t1700000000000-0\t12\t1\t0.1"
    assert grouped(DEAD_LETTER, line) == "cannot record"  # the line itself is not quoted
    assert grouped(ABANDONED, "abandoned after 5 attempts") == "abandoned after 5 attempts"
    assert grouped(DEAD_LETTER, "  ") == "(no reason given)"
    assert len(grouped(DEAD_LETTER, "x" * 500)) == 120


def test_memory_is_bounded_and_a_message_settled_twice_counts_once() -> None:
    reasons = Reasons(total=1000, limit=5)
    for seq in (3, 3, 4):  # seq 3 abandoned twice (record.lua writes both): once
        reasons.add("abandoned after 2 attempts", str(seq))
    reasons.add("undeliverable number (permanent failure)", "999999")  # outside: counted
    for i in range(10_000):  # 10,000 reasons all different (letters, not numbers)
        reasons.add("malformed: " + "".join(chr(97 + int(d)) for d in str(i)))
    found = reasons.failures()
    assert len(reasons.counts) <= 5 + 3  # the limit, and "other reasons" of each kind
    by = {(f.kind, f.reason): f.count for f in found}
    assert by[(ABANDONED, "abandoned after 2 attempts")] == 2
    assert by[(UNDELIVERABLE, "undeliverable number (permanent failure)")] == 1
    assert sum(n for (kind, _), n in by.items() if kind == DEAD_LETTER) == 10_000
    assert by[(DEAD_LETTER, OTHER)] == 10_000 - 3  # 5 keys: 2 settled, 3 dead letters
    kinds = [f.kind for f in found]
    assert kinds == sorted(kinds, key=[ABANDONED, UNDELIVERABLE, DEAD_LETTER].index)
    assert found[-1].reason == OTHER  # last of its kind


async def test_every_partitions_dead_stream_is_read_in_pages(
    fake: Redis, keys: RunKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dead, "PAGE", 3)
    first, second = keys.parts(2)
    for seq in range(7):
        reason = f"abandoned after {2 + seq % 2} attempts"
        await fake.xadd(first.dead, {"id": "1-0", "seq": seq, "sender": "gw", "reason": reason})
    for seq in range(7, 12):
        reason = f"malformed: seq {seq} outside the run (0..6)"
        await fake.xadd(second.dead, {"id": "1-0", "seq": seq, "sender": "gw", "reason": reason})
    found = await dead.failures(fake, keys, 2, 12)
    assert found == (
        Failure(ABANDONED, "abandoned after 2 attempts", 4),
        Failure(ABANDONED, "abandoned after 3 attempts", 3),
        Failure(DEAD_LETTER, "malformed: seq N outside the run (N..N)", 5),
    )
    assert await dead.failures(fake, RunKeys("no-such-run"), 1, 0) == ()


async def test_a_dead_key_of_another_type_leaves_the_failures_unknown(
    fake: Redis, keys: RunKeys
) -> None:
    await fake.set(keys.dead, "not a stream")
    assert await dead.failures(fake, keys, 1, 10) is None


async def test_a_run_ends_with_its_failures_by_reason(fake: Redis, keys: RunKeys) -> None:
    """A real run: undeliverable numbers and messages abandoned after 2 attempts; the
    final report's table counts what the run's counters count, and every output shows
    it."""
    await produce_now(fake, keys.run, 120, invalid_fraction=0.2, seed=3)
    await send_all(fake, keys.run, failure_rate=0.6, max_attempts=2, seed=4)
    rep = await watch(fake, keys.run)
    state = await read_state(fake, keys)
    assert rep is not None and state is not None and rep.complete
    assert rep.failures is not None
    by = {(f.kind, f.reason): f.count for f in rep.failures}
    assert by == {
        (ABANDONED, "abandoned after 2 attempts"): state.abandoned,
        (UNDELIVERABLE, "undeliverable number (permanent failure)"): state.undeliverable,
    }
    assert state.abandoned > 0 and state.undeliverable > 0
    data = json.loads(json.dumps(summary(rep)))
    assert data["failures"] == [
        {"kind": f.kind, "reason": f.reason, "count": f.count} for f in rep.failures
    ]
    text = final_text(rep)
    assert "failures (dead stream, by reason):" in text
    assert f"abandoned      {state.abandoned:>2}  abandoned after 2 attempts" in text
    page = report_html(rep)
    assert "<h2>Failures</h2>" in page and escape("undeliverable number (permanent") in page
    table = recorded(summary_table(rep, 160), width=160)
    assert "failures (dead stream, by reason)" in table and "abandoned after 2 attempts" in table


def test_no_failures_and_unknown_failures_read_apart() -> None:
    none = build(replace(sample_snapshot(), failures=()), final=True)
    unknown = build(sample_snapshot(), final=True)
    assert "failures (dead stream, by reason): none" in final_text(none)
    assert "failures (" not in final_text(unknown)
    assert summary(none)["failures"] == [] and summary(unknown)["failures"] is None
    assert "None: no message was abandoned" in report_html(none)
    assert "Not known" in report_html(unknown)


def test_show_and_compare_give_the_failures_table() -> None:
    state = RunState(total=100, produced=100, done=True, delivered=95, abandoned=3,
                     undeliverable=2)  # fmt: skip
    failures = (
        Failure(ABANDONED, "abandoned after 3 attempts", 3),
        Failure(UNDELIVERABLE, "undeliverable number (permanent failure)", 2),
    )
    a = summary(build(replace(sample_snapshot(state=state), failures=failures), final=True))
    b = summary(build(replace(sample_snapshot(state=state), failures=failures[:1]), final=True))
    shown = show_text(StoredRun("a", a, NOW - 20, NOW))
    assert "failures (dead stream, by reason):" in shown
    assert "  abandoned      3  abandoned after 3 attempts" in shown
    compared = compare_text(StoredRun("a", a, NOW - 20, NOW), StoredRun("b", b, NOW - 20, NOW))
    row = next(line for line in compared.splitlines() if "undeliverable number" in line)
    assert row.split()[-4:] == ["2", "0", "-2", "(-100.0%)"]  # A, B, and B - A


@pytest.mark.parametrize("where", ["server", "cluster"])
async def test_every_partition_is_counted_on_a_server_and_a_cluster(
    tmp_path: Path, run_name: str, monkeypatch: pytest.MonkeyPatch, where: str,
    request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    """A run of 3 partitions (on a cluster, one per master; raw replies come parsed
    there): the table counts every partition's dead stream, as the counters do."""
    url = request.getfixturevalue("cluster_url" if where == "cluster" else "redis_url")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text(
        "num_messages: 600\nreport_period: 0.2\npartitions: 3\ninvalid_fraction: 0.1\n"
        "senders:\n  - {mean_time: 0.001, failure_rate: 0.5, max_attempts: 2, concurrency: 8}\n",
        encoding="utf-8",
    )
    the_plan = plan({"config": tmp_path / "c.yaml", "redis_url": url, "run": run_name})
    rep = await asyncio.wait_for(simulate(the_plan, PlainView(io.StringIO()), asyncio.Event()), 60)
    client = connect(url)
    try:
        state = await read_state(client, RunKeys(run_name))
        assert rep is not None and rep.failures is not None and state is not None
        assert state.partitions == 3 and state.abandoned > 0 and state.undeliverable > 0
        assert {(f.kind, f.reason): f.count for f in rep.failures} == {
            (ABANDONED, "abandoned after 2 attempts"): state.abandoned,
            (UNDELIVERABLE, "undeliverable number (permanent failure)"): state.undeliverable,
        }
    finally:
        await client.delete(*RunKeys(run_name).all(3))
        await client.aclose()


def test_a_second_abandonment_counts_once_in_a_billion_message_run() -> None:
    """The bitmap that tells a second abandonment apart holds chunks only where failing
    seqs fall: a run of 10^9 messages does not hold 125 MB for two failures."""
    from monitor.tally.failures import Reasons  # noqa: PLC0415

    reasons = Reasons(10**9)
    for seq in ("999999999", "999999999", "7"):
        reasons.add("abandoned after 3 attempts", seq)
    assert sum(f.count for f in reasons.failures()) == 2
    assert sum(len(chunk) for chunk in reasons._settled.values()) <= 2 * 2**17
