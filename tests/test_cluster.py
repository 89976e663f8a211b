"""Redis Cluster (issue 15): the same roles on a throwaway 3-master cluster."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from common.connection import connect
from common.keys import RunKeys
from common.run import read_state
from launcher.simulate import plan, simulate
from monitor.views import PlainView


async def test_a_run_completes_exactly_once_on_a_cluster(
    tmp_path: Path, cluster_url: str, run_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text(
        "num_messages: 2000\nreport_period: 0.2\nsenders:\n"
        "  - {mean_time: 0.002, failure_rate: 0.3, concurrency: 8}\n"
        "  - {mean_time: 0.003, failure_rate: 0.1, concurrency: 8}\n",
        encoding="utf-8",
    )
    the_plan = plan({"config": tmp_path / "c.yaml", "redis_url": cluster_url, "run": run_name})
    assert the_plan.target.cluster
    snap = await asyncio.wait_for(simulate(the_plan, PlainView(io.StringIO()), asyncio.Event()), 60)
    assert snap is not None and snap.stats.sent == 2000
    client = connect(cluster_url)
    try:
        state = await read_state(client, RunKeys(run_name))
        assert state is not None and state.complete and state.delivered == 2000
    finally:
        await client.delete(*RunKeys(run_name).all())
        await client.aclose()
