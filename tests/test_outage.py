"""Riding out Redis outages (common.retry): what counts as Redis being away."""

from __future__ import annotations

from typing import Any

import pytest

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
