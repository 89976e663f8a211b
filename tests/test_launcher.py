"""`sms-sim run` in one process: stopping it early, and finished runs."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from common.keys import RunKeys
from common.run import read_state
from launcher.simulate import plan, simulate
from monitor.views.plain import PlainView
from sender.station import Station, serve
from tests.roles import produce_now, send_all, sender_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("REDIS_URL", "SMS_RUN", "SMS_CONFIG", "PRODUCER_COUNT", "SENDER_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


async def test_a_run_stopped_early_summarises_everything_its_senders_recorded(
    tmp_path: Path, redis_url: str, run_name: str
) -> None:
    """Issue 16 item 4: on Ctrl-C the summary said 272 sent while the senders' own lines
    added up to 277. The senders finish their in-flight messages first (grace), then the
    monitor counts what they recorded."""
    (tmp_path / "c.yaml").write_text(
        "num_messages: 5000\nreport_period: 0.1\nsenders:\n"
        "  - {mean_time: 0.05, failure_rate: 0.3, concurrency: 20}\n"
        "  - {mean_time: 0.08, failure_rate: 0.1, concurrency: 20}\n",
        encoding="utf-8",
    )
    the_plan = plan({"config": tmp_path / "c.yaml", "redis_url": redis_url, "run": run_name})
    stop = asyncio.Event()
    running = asyncio.create_task(simulate(the_plan, PlainView(io.StringIO()), stop))
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        await _until_delivering(client, RunKeys(run_name))  # its worker process has joined
        await asyncio.sleep(0.5)
        stop.set()  # what SIGINT does
        snap = await asyncio.wait_for(running, 20)
        assert snap is not None and not snap.complete
        state = await read_state(client, RunKeys(run_name))
        assert state is not None and 0 < state.delivered < 5000
        assert snap.sent == state.delivered  # all of it, nothing recorded after
        beats = await client.hgetall(RunKeys(run_name).senders)
        assert all('"stopped"' in beat for beat in beats.values())
    finally:
        await client.delete(*RunKeys(run_name).all())
        await client.aclose()


async def _until_delivering(client: Redis, keys: RunKeys, within: float = 30) -> None:
    for _ in range(int(within / 0.05)):
        state = await read_state(client, keys)
        if state is not None and state.delivered > 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"nothing delivered within {within} s")


async def test_a_sender_started_on_a_finished_run_registers_nothing(
    client: Redis, keys: RunKeys
) -> None:
    """Issue 12 item 6: re-running `up` on a finished run added new idle senders to its
    summary. A sender that finds the run complete leaves without a claim or heartbeat."""
    await produce_now(client, keys.run, 10)
    await send_all(client, keys.run, name="first")
    before = await client.hgetall(keys.meta)
    late = await serve(client, sender_settings(keys.run, name="late"), asyncio.Event())
    assert late is None
    assert list(await client.hkeys(keys.senders)) == ["first"]
    assert await client.hgetall(keys.meta) == before


async def test_the_run_starts_when_its_fleet_can_send(
    tmp_path: Path, redis_url: str, run_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three 1 s attempts on one slot at x20 take 3 s simulated. A station that takes
    0.2 s to join the run (a slow machine's start-up) used to count: 7 s simulated. The
    run's time 0 is now when every sender has joined."""
    (tmp_path / "c.yaml").write_text(
        "num_messages: 3\ntime_scale: 20\nreport_period: 0.1\nsenders:\n"
        "  - {mean_time: 1.0, shape: 1000000, failure_rate: 0}\n",
        encoding="utf-8",
    )
    create = Station.create

    async def slow_create(*args: Any, **kw: Any) -> Station | None:
        await asyncio.sleep(0.2)
        return await create(*args, **kw)

    monkeypatch.setattr(Station, "create", slow_create)
    flags = {"config": tmp_path / "c.yaml", "redis_url": redis_url, "run": run_name}
    the_plan = plan({**flags, "workers": 1})
    try:
        rep = await asyncio.wait_for(
            simulate(the_plan, PlainView(io.StringIO()), asyncio.Event()), 20
        )
        assert rep is not None and rep.complete
        assert rep.elapsed == pytest.approx(3.0, abs=0.8)  # 40 ms real of slack
    finally:
        client = Redis.from_url(redis_url)
        await client.delete(*RunKeys(run_name).all())
        await client.aclose()


def test_without_the_embedded_redis_installed_the_way_out_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The image leaves fakeredis out (the `embedded` extra): with no server named and no
    redis-server, one line says what to do (it was `unexpected ModuleNotFoundError`)."""
    import sys  # noqa: PLC0415

    from common.connection import EmbeddedRedis  # noqa: PLC0415
    from common.errors import UsageProblem  # noqa: PLC0415

    monkeypatch.setitem(sys.modules, "fakeredis", None)  # import fakeredis: ImportError
    with pytest.raises(UsageProblem, match=r"--redis-url URL .* sms-sim\[embedded\]"):
        EmbeddedRedis()
