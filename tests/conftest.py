"""Shared fixtures: an embedded (fakeredis) client, a throwaway real redis-server, unique runs.

Real-Redis tests use ``REDIS_URL`` when it is set, else start ``redis-server`` on a free
port (no persistence). Without the binary they skip, unless ``SMS_REQUIRE_REDIS=1`` (CI),
where they fail instead.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from common.connection import EmbeddedRedis, connect
from common.keys import RunKeys
from tests.commands import Runner, runner_for
from tests.support import (
    ROOT,
    RedisCluster,
    RedisServer,
    start_redis_cluster,
    start_redis_server,
)

REQUIRE_REDIS = os.environ.get("SMS_REQUIRE_REDIS") == "1"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer | None]:
    """A throwaway redis-server for the session (None when REDIS_URL points elsewhere)."""
    if os.environ.get("REDIS_URL"):
        yield None
        return
    binary = shutil.which("redis-server")
    if binary is None:
        if REQUIRE_REDIS:
            pytest.fail("SMS_REQUIRE_REDIS=1 but no redis-server binary is installed")
        pytest.skip("no redis-server binary; set REDIS_URL or install redis-server")
    server = start_redis_server(binary, tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()


def _redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        if REQUIRE_REDIS:
            pytest.fail("SMS_REQUIRE_REDIS=1 but no redis-server binary is installed")
        pytest.skip("no redis-server binary; install redis-server")
    return binary


@pytest.fixture(scope="session")
def redis_binary() -> str:
    """The redis-server binary (skips without one, fails under SMS_REQUIRE_REDIS=1)."""
    return _redis_binary()


@pytest.fixture
def own_redis(redis_binary: str, tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, whose configuration it may change (a policy, a
    password, an ACL); stopped after the test."""
    (tmp_path / "data").mkdir()
    server = start_redis_server(redis_binary, tmp_path / "data")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """A throwaway 3-master Redis Cluster for the session (appendonly on, so a master
    restarted in a test keeps its data)."""
    cluster = start_redis_cluster(
        _redis_binary(), tmp_path_factory.mktemp("cluster"), extra=["--appendonly", "yes"]
    )
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster_url(redis_cluster: RedisCluster) -> str:
    return redis_cluster.url


@pytest.fixture
def redis_url(redis_server: RedisServer | None) -> str:
    """The URL of a real Redis for this test."""
    return redis_server.url if redis_server else os.environ["REDIS_URL"]


@pytest.fixture
def run_name() -> str:
    """A run name no other test uses: tests isolate by keys, never by flushing."""
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def keys(run_name: str) -> RunKeys:
    return RunKeys(run_name)


@pytest.fixture
def embedded() -> EmbeddedRedis:
    return EmbeddedRedis()


@pytest.fixture
async def fake(embedded: EmbeddedRedis) -> AsyncIterator[Redis]:
    client = embedded.client()
    yield client
    await client.aclose()


@pytest.fixture
async def real(redis_url: str, keys: RunKeys) -> AsyncIterator[Redis]:
    client = connect(redis_url)
    yield client
    await client.delete(*keys.all())
    await client.aclose()


@pytest.fixture(params=["fakeredis", "redis-server"])
async def client(request: pytest.FixtureRequest, keys: RunKeys) -> AsyncIterator[Redis]:
    """The same test on the embedded server and on a real one."""
    if request.param == "fakeredis":
        made = EmbeddedRedis().client()
    else:
        made = connect(request.getfixturevalue("redis_url"))
    yield made
    await made.delete(*keys.all())
    await made.aclose()


@pytest.fixture
def project_root() -> Path:
    return ROOT


@pytest.fixture
def runner(capsys: pytest.CaptureFixture[str]) -> Runner:
    """Runs a command's ``main`` with arguments: its exit code and output."""
    return runner_for(capsys)
