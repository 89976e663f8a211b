"""The least-privilege ACL the README gives (issue 24) is enough for every role and the
history commands: it is read from the README and applied to a throwaway server, so the
README and the code cannot drift apart."""

from __future__ import annotations

import re

import pytest
import redis

from launcher.cli import main as sim_app
from tests.commands import Runner
from tests.support import ROOT, RedisServer

PASSWORD = "acl-test-pw"


def readme_acl() -> list[str]:
    """The arguments of the README's ``ACL SETUSER`` command (after the user name)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"```\nACL SETUSER sms (.*?)\n```", text, re.S)
    assert found, "README.md gives no ACL SETUSER sms block"
    return [a.replace("PASSWORD", PASSWORD) for a in found.group(1).split()]


@pytest.fixture
def limited(own_redis: RedisServer) -> RedisServer:
    admin = redis.Redis(port=own_redis.port)
    admin.execute_command("ACL", "SETUSER", "sms", *readme_acl())  # type: ignore[no-untyped-call]
    admin.close()
    return own_redis


def test_the_readme_acl_serves_every_role_and_command(runner: Runner, limited: RedisServer) -> None:
    url = f"redis://sms:{PASSWORD}@127.0.0.1:{limited.port}/0"
    run = ["run", "--redis-url", url, "--run", "acl", "--count", "40", "--json", "--plain"]
    done = runner(sim_app, run)
    assert done.exit_code == 0, done.output
    assert '"sent": 40' in done.stdout
    for command in (["runs"], ["show", "acl"], ["reset", "--run", "acl"]):
        done = runner(sim_app, [*command, "--redis-url", url])
        assert done.exit_code == 0, (command, done.output)
    assert not redis.Redis(port=limited.port).keys("sms:*")  # reset deleted the run


def test_a_command_the_user_may_not_run_is_one_line(runner: Runner, limited: RedisServer) -> None:
    admin = redis.Redis(port=limited.port)
    admin.execute_command("ACL", "SETUSER", "sms", "-type")  # type: ignore[no-untyped-call]  # record.lua checks key types
    admin.close()
    url = f"redis://sms:{PASSWORD}@127.0.0.1:{limited.port}/0"
    done = runner(sim_app, ["run", "--redis-url", url, "--run", "acl", "--count", "5"])
    assert done.exit_code == 1
    last = done.stderr.strip().splitlines()[-1]  # a worker process may say it too, before
    assert last.startswith("sms-sim: error: the Redis user may not run a command this needs")
    assert "unexpected" not in done.stderr and "Traceback" not in done.stderr
