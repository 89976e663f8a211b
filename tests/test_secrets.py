"""No secret is ever printed or stored, whatever form the Redis URL takes (issue 24, item 6):
a password in the user part or in the query, in a URL that works, that is refused, or that
is wrong in its port, database or options."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from common.target import mask_url
from launcher.cli import main as sim_app
from tests.commands import Runner
from tests.support import RedisServer

SECRET = "S3cr3tPW"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("redis://:PW@h:6379/0", "redis://:***@h:6379/0"),
        ("redis://user:PW@h:6379/0", "redis://user:***@h:6379/0"),
        ("redis://:PW@h:99999/0", "redis://:***@h:99999/0"),  # a port no parser takes
        ("redis://:PW@h:abc/x", "redis://:***@h:abc/x"),
        ("redis://h:6379/0?password=PW&db=0", "redis://h:6379/0?password=***&db=0"),
        ("redis://h?password=PW", "redis://h?password=***"),
        ("rediss+cluster://u:PW@[::1]:7000", "rediss+cluster://u:***@[::1]:7000"),
        ("redis://h:6379/0", "redis://h:6379/0"),
        ("unix:///tmp/r.sock?password=PW", "unix:///tmp/r.sock?password=***"),
    ],
)
def test_a_url_is_shown_with_its_password_masked(url: str, masked: str) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize(
    "url",
    [
        f"redis://:{SECRET}@127.0.0.1:99999/0",
        f"redis://:{SECRET}@127.0.0.1:abc/0",
        f"redis://:{SECRET}@127.0.0.1:6391/abc",
        f"redis://:{SECRET}@127.0.0.1:6391/0?socket_timeout=abc",
        f"redis://127.0.0.1:99999/0?password={SECRET}",
    ],
)
def test_a_wrong_url_is_refused_without_its_password(runner: Runner, url: str) -> None:
    done = runner(sim_app, ["run", "--redis-url", url, "--count", "3"])
    assert done.exit_code == 2
    assert "redis_url" in done.error and "***" in done.error
    assert SECRET not in done.output


@pytest.fixture
def protected(own_redis: RedisServer) -> RedisServer:
    """A throwaway redis-server that wants a password."""
    redis.Redis(port=own_redis.port).config_set("requirepass", SECRET)
    return own_redis


@pytest.mark.parametrize("form", ["user", "query"])
def test_a_run_with_a_password_never_shows_it(
    runner: Runner, protected: RedisServer, tmp_path: Path, form: str
) -> None:
    port = protected.port
    url = (
        f"redis://:{SECRET}@127.0.0.1:{port}/0"
        if form == "user"
        else f"redis://127.0.0.1:{port}/0?password={SECRET}"
    )
    report = tmp_path / "report.html"
    args = ["run", "--redis-url", url, "--count", "5", "--run", f"pw-{form}", "--plain"]
    done = runner(sim_app, [*args, "--json", "--report", str(report)])
    assert done.exit_code == 0, done.output
    assert "***" in done.stderr  # the URL is shown, masked
    assert SECRET not in done.output
    assert SECRET not in report.read_text(encoding="utf-8")
    client = redis.Redis(port=port, password=SECRET, decode_responses=True)
    for key in client.scan_iter("sms:*"):  # nothing kept in Redis names it either
        assert SECRET not in str(client.dump(key))


def test_a_wrong_password_is_one_line_without_it(runner: Runner, protected: RedisServer) -> None:
    url = f"redis://127.0.0.1:{protected.port}/0?password=wrong-{SECRET}"
    done = runner(sim_app, ["run", "--redis-url", url, "--count", "3"])
    assert done.exit_code != 0
    assert "credentials" in done.error
    assert SECRET not in done.output
