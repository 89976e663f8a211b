"""Riding out Redis outages (common.retry): what counts as Redis being away."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import OutOfMemoryError
from redis.exceptions import TimeoutError as RedisTimeoutError

from common import retry
from common.connection import connect


async def test_a_connection_closed_under_a_write_is_ridden_out(redis_url: str) -> None:
    """A connection closed while a command is being written (a cluster client dropping
    its connections in a failover does this) makes redis-py raise AttributeError, not
    ConnectionError (redis/redis-py#4287): the command is retried, as in any outage."""
    client = connect(redis_url, "test")
    try:
        assert await client.ping()
        conn: Any = client.connection_pool._available_connections[0]  # the one just used
        check_health = conn.check_health

        async def closed_meanwhile() -> None:
            await check_health()
            conn.check_health = check_health
            conn._writer = None  # what a concurrent disconnect leaves

        conn.check_health = closed_meanwhile
        assert await client.get("sms-sim-test:nothing") is None
        assert conn.check_health == check_health  # the write did meet a closed connection
    finally:
        await client.aclose()


async def test_other_attribute_errors_are_not_taken_for_outages(redis_url: str) -> None:
    client = connect(redis_url, "test")
    try:
        assert await client.ping()

        async def broken() -> None:
            raise AttributeError("a bug of ours")

        with pytest.raises(AttributeError, match="a bug of ours"):
            await client.outage.call(broken)  # type: ignore[attr-defined]
    finally:
        await client.aclose()


async def test_reads_do_not_end_an_out_of_memory_outage(redis_url: str) -> None:
    """Issue 24, item 1: out of memory, Redis still serves reads. A role whose writes fail
    while its reads succeed used to restart its outage clock at every read and never give
    up; now only a write ends that outage, so the writes give up after REDIS_GIVE_UP."""
    client = connect(redis_url, "test", give_up=0.5)
    plain = Redis.from_url(redis_url)
    key = f"sms-sim-test:oom-{uuid.uuid4().hex}"
    try:
        assert await client.ping()  # connected: outages are ridden out from now on
        await plain.config_set("maxmemory", 1)

        served = 0

        async def keep_reading() -> None:
            nonlocal served
            while True:
                assert await client.xrange(key) == []  # a read, served all along
                served += 1
                await asyncio.sleep(0.02)

        reader = asyncio.create_task(keep_reading())
        started = time.monotonic()
        with pytest.raises(OutOfMemoryError):
            await asyncio.wait_for(client.set(key, "x"), 10)  # a write, refused
        assert time.monotonic() - started < 5  # gave up, give_up after the outage began
        assert served >= 10  # the reads went on meanwhile (and did not end the outage)
        reader.cancel()
    finally:
        await plain.config_set("maxmemory", 0)
        await plain.delete(key)
        await plain.aclose()
        await client.aclose()


class Blackhole:
    """A TCP proxy to Redis that can be cut off the network: once ``cut``, it forwards
    nothing either way and answers nothing, but closes no connection (packets dropped,
    as by a partition or a firewall; no reset that would fail a command at once)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cut = False
        self.server: asyncio.Server | None = None
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"redis://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/0"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            return  # accepted by the kernel, never answered
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.tasks += [
            asyncio.create_task(self._pump(reader, up_writer)),
            asyncio.create_task(self._pump(up_reader, writer)),
        ]

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while data := await source.read(65536):
            if not self.cut:
                sink.write(data)
                await sink.drain()

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.server is not None:
            self.server.close()


async def test_a_redis_cut_off_the_network_is_given_up_on_time(
    redis_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis cut off (no answer, no reset): a role gives up REDIS_GIVE_UP after the cut,
    not after its sockets' timeouts add up (a sender cut off for 170 s with REDIS_GIVE_UP
    60 exited 125 s after the cut, and said nothing for the first 30 s)."""
    monkeypatch.setattr(retry, "SILENT", 0.5)  # 5 s in earnest
    proxy = Blackhole(int(redis_url.rsplit(":", 1)[1].split("/", maxsplit=1)[0]))
    client = connect(await proxy.start(), "test", give_up=2.0)
    try:
        assert await client.ping()
        proxy.cut = True
        started = time.time()
        with pytest.raises(RedisTimeoutError, match="did not answer for 2 s"):
            await asyncio.wait_for(client.set("sms-sim-test:cut", "x"), 20)
        assert 1.9 < time.time() - started < 3.5
        said = [r for r in caplog.records if "has not answered for" in r.getMessage()]
        assert len(said) == 1 and said[0].created - started < 1.5  # said early, once
        assert len([r for r in caplog.records if "giving up" in r.getMessage()]) == 1
    finally:
        await proxy.close()
        await client.aclose()
