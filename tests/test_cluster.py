"""Redis Cluster (issue 15): the same roles on a throwaway 3-master cluster."""

from __future__ import annotations

import asyncio
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.cluster

from common.connection import connect
from common.keys import RunKeys
from common.run import read_state
from common.target import plain_url
from launcher.simulate import plan, reset, simulate
from monitor.views.plain import PlainView
from tests.processes import finish, role_env, spawn
from tests.support import RedisCluster, wait_until


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
    assert snap is not None and snap.sent == 2000
    client = connect(cluster_url)
    try:
        state = await read_state(client, RunKeys(run_name))
        assert state is not None and state.complete and state.delivered == 2000
    finally:
        await client.delete(*RunKeys(run_name).all())
        await client.aclose()


async def test_three_partitions_on_three_masters(
    tmp_path: Path, cluster_url: str, run_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run of 3 partitions on a 3-master cluster: each partition on its own master,
    and every message delivered and counted once."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text(
        "num_messages: 3000\nreport_period: 0.2\npartitions: 3\nsenders:\n"
        "  - {mean_time: 0.002, failure_rate: 0.3, concurrency: 16}\n"
        "  - {mean_time: 0.003, failure_rate: 0.1, concurrency: 16}\n",
        encoding="utf-8",
    )
    the_plan = plan({"config": tmp_path / "c.yaml", "redis_url": cluster_url, "run": run_name})
    snap = await asyncio.wait_for(simulate(the_plan, PlainView(io.StringIO()), asyncio.Event()), 60)
    assert snap is not None and snap.sent == 3000
    client = connect(cluster_url)
    keys = RunKeys(run_name)
    try:
        state = await read_state(client, keys)
        assert state is not None and state.complete and state.delivered == 3000
        cluster: Any = client
        nodes = {cluster.get_node_from_key(part.outbox).name for part in keys.parts(3)}
        assert len(nodes) == 3
    finally:
        await reset(client, keys)
        await client.aclose()


def test_a_killed_sender_and_a_restarted_master_lose_nothing(
    redis_cluster: RedisCluster, run_name: str
) -> None:
    """3 partitions on the cluster, the roles as processes: a sender is SIGKILLed (its
    messages taken over in every partition), a fresh one joins, a master restarts with its
    append-only file; the run completes, every message delivered and counted once."""
    total = 3000
    env = role_env(redis_cluster.url, run_name)
    fast = ["--mean-time", "0.01", "--failure-rate", "0.2", "--concurrency", "8"]
    fast += ["--claim-idle", "1", "--grace", "1"]
    monitor = spawn("monitor", ["--json", "--report-period", "0.3", "--keep-results"], env)
    producer = spawn("producer", ["--count", str(total), "--partitions", "3"], env)
    senders = [spawn("sender", [*fast, "--name", f"s{i}"], env) for i in (1, 2)]
    client = cluster_client(redis_cluster.url)
    keys = RunKeys(run_name)
    try:
        wait_until(lambda: delivered(client, keys) > 500, 60, "progress")
        senders[0].process.kill()
        senders.append(spawn("sender", [*fast, "--name", "s3"], env))
        wait_until(lambda: delivered(client, keys) > 1200, 60, "more progress")
        redis_cluster.restart(1)
        assert finish(producer)[0] == 0
        for proc in senders[1:]:
            code, _, err = finish(proc, timeout=120)
            assert code == 0, err
        code, out, err = finish(monitor, timeout=120)
        assert code == 0, err
        assert json.loads(out)["sent"] == total
        seen = Counter(
            int(fields["seq"])
            for part in keys.parts(3)
            for _, fields in client.xrange(part.results)
            if fields["ok"] == "1" and "dup" not in fields
        )
        assert sorted(seen) == list(range(total)) and set(seen.values()) == {1}
    finally:
        for key in keys.all(3):
            client.delete(key)
        client.close()


def cluster_client(url: str) -> Any:
    return redis.cluster.RedisCluster.from_url(plain_url(url), decode_responses=True)


def delivered(client: Any, keys: RunKeys) -> int:
    return sum(int(client.hget(part.meta, "delivered") or 0) for part in keys.parts(3))
