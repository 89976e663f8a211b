"""A server whose policy may evict a run's keys is refused up front (issue 24, item 2):
exit 2 naming the policy and the fix, for every role; REDIS_ALLOW_EVICTION=1 runs there
at that risk. The run's keys have no TTL, so volatile-* policies never evict them."""

from __future__ import annotations

import pytest
import redis

from launcher.cli import main as sim_app
from monitor.cli import main as monitor_app
from producer.cli import main as producer_app
from sender.cli import main as sender_app
from tests.commands import Main, Runner
from tests.support import RedisServer


@pytest.fixture
def server(own_redis: RedisServer) -> RedisServer:
    return own_redis


def policy(server: RedisServer, name: str) -> None:
    redis.Redis(port=server.port).config_set("maxmemory-policy", name)


@pytest.mark.parametrize(
    ("app", "args"),
    [
        (sim_app, ["run", "--count", "3"]),
        (producer_app, ["--count", "3"]),
        (sender_app, ["--mean-time", "0", "--failure-rate", "0"]),
        (monitor_app, []),
    ],
)
def test_an_evicting_server_is_refused_by_every_role(
    runner: Runner, server: RedisServer, app: Main, args: list[str]
) -> None:
    policy(server, "allkeys-lru")
    done = runner(app, [*args, "--redis-url", server.url, "--run", "evicting"])
    assert done.exit_code == 2, done.output
    line = done.error
    assert "maxmemory-policy allkeys-lru" in line and "noeviction" in line
    assert "REDIS_ALLOW_EVICTION=1" in line
    assert not redis.Redis(port=server.port).keys("sms:*")  # nothing was written


def test_the_risk_can_be_accepted_and_volatile_policies_are_served(
    runner: Runner, server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy(server, "volatile-lru")
    args = ["run", "--count", "3", "--redis-url", server.url, "--plain"]
    assert runner(sim_app, [*args, "--run", "volatile"]).exit_code == 0
    policy(server, "allkeys-random")
    monkeypatch.setenv("REDIS_ALLOW_EVICTION", "1")
    done = runner(sim_app, [*args, "--run", "accepted"])
    assert done.exit_code == 0, done.output
