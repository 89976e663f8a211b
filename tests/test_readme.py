"""Issue 14: every short command of the README works as written.

Each line of the README's ```` ```sh ```` blocks is a command. They run in the README's
order, each in ``bash -c`` from the repository's root, and must exit 0, unless a rule of
``SKIP`` names them (the first rule that matches, with its reason). As in a shell, an
``export REDIS_URL=...`` line sets the server for the rest of its block; every
``redis://127.0.0.1:PORT/DB`` a command names is replaced by the URL of a throwaway
redis-server this module starts for itself (the README's commands use fixed run names, so
they never run on a server the machine already has). A command that names no server runs
as written: ``sms-sim run`` then uses the embedded Redis.

The README's YAML example is checked too: a valid config that shows every key.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from common.model import SenderProfile, SimConfig
from tests.support import ROOT, RedisServer, start_redis_server

README = ROOT / "README.md"
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
EXPORT = re.compile(r"^export REDIS_URL=(\S+)$")
LOCAL_URL = re.compile(r"redis://127\.0\.0\.1:\d+/\d+")
TIMEOUT = 120  # seconds for one command; the short ones take one to three

# What is not run, and why. Each rule must still match some command of the README.
SKIP: list[tuple[str, str]] = [
    (r"^docker(-compose)? |^\S+=\S+ docker ", "needs a Docker engine (test_compose.py)"),
    (r"\buv run pytest\b", "the test suite itself"),
    (r"\bbenchmarks/", "a benchmark: minutes of both cores"),
    (r"redis\+cluster://", "needs a Redis Cluster (test_cluster.py)"),
    (r"127\.0\.0\.1:6380/", "the Compose stack's Redis and its run (test_compose.py)"),
    (r"\bsms-(sender|monitor)\b(?!.*--help)", "serves a run until it completes"),
    (r"\bsms-sim run\b(?!.*--(count|help))", "a whole run: 35 s for the example, minutes more"),
    (r"\bsms-sim plan\b", "minutes of virtual runs (tests/test_plan.py plans fleets)"),
]
# Variables of the machine that would change what a command does.
ROLE_VARIABLES = re.compile(r"^(REDIS_[A-Z_]+|(SMS|PRODUCER|SENDER|MONITOR)_[A-Z_]+)$")


@dataclass(frozen=True)
class Command:
    line: str  # as the README writes it, without its comment
    redis_url: str | None  # REDIS_URL exported earlier in its block

    @property
    def skip(self) -> str | None:
        """Why it is not run, or None."""
        return next((why for pattern, why in SKIP if re.search(pattern, self.line)), None)


def readme_commands(text: str) -> list[Command]:
    commands = []
    for block in BLOCK.findall(text):
        exported: str | None = None
        for raw in block.splitlines():
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            found = EXPORT.match(line)
            if found:
                exported = found.group(1)
            elif line.startswith("export "):
                raise AssertionError(f"the test knows only `export REDIS_URL=`: {line}")
            else:
                commands.append(Command(line, exported))
    return commands


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("SMS_REQUIRE_REDIS") == "1":
            pytest.fail("SMS_REQUIRE_REDIS=1 but no redis-server binary is installed")
        pytest.skip("no redis-server binary")
    started = start_redis_server(binary, tmp_path_factory.mktemp("readme-redis"))
    try:
        yield started
    finally:
        started.stop()


def command_env(command: Command, url: str, shim: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not ROLE_VARIABLES.match(k)}
    if command.redis_url is not None:
        env["REDIS_URL"] = url
    env["UV_FROZEN"] = "1"  # never touch uv.lock
    if shutil.which("uv") is None:  # `uv run X` as X from this environment
        env["PATH"] = os.pathsep.join([str(shim), str(Path(sys.executable).parent), env["PATH"]])
    return env


@pytest.fixture
def uv_shim(tmp_path: Path) -> Path:
    """A stand-in ``uv`` (``uv run X`` runs X) for machines without uv."""
    script = tmp_path / "uv"
    script.write_text('#!/bin/sh\n[ "$1" = run ] && shift\nexec "$@"\n', encoding="utf-8")
    script.chmod(0o755)
    return tmp_path


def test_the_readme_commands_are_found_and_every_skip_rule_is_used() -> None:
    commands = readme_commands(README.read_text(encoding="utf-8"))
    run = [c.line for c in commands if c.skip is None]
    for wanted in ("--help", "sms-sim run --count", "sms-sim runs", "sms-sim show", "compare"):
        assert any(wanted in line for line in run), wanted
    assert any("reset" in line for line in run)
    assert any(c.redis_url is None and "sms-sim run --count" in c.line for c in commands)
    for pattern, why in SKIP:
        assert any(re.search(pattern, c.line) for c in commands), f"unused rule: {why}"


def test_readme_commands_run_as_written(server: RedisServer, uv_shim: Path) -> None:
    failures = []
    for command in readme_commands(README.read_text(encoding="utf-8")):
        if command.skip is not None:
            continue
        line = LOCAL_URL.sub(server.url, command.line)
        done = subprocess.run(
            ["bash", "-c", line],
            cwd=ROOT,
            env=command_env(command, server.url, uv_shim),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            failures.append(f"{command.line}: exit {done.returncode}\n{done.stderr[-2000:]}")
    assert not failures, "\n\n".join(failures)


def test_the_readme_config_example_is_valid_and_shows_every_key() -> None:
    """The first YAML block is the config example: it shows every key. Every other one is
    a valid config too."""
    block, *others = re.findall(
        r"^```yaml\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M
    )
    for other in others:
        SimConfig.model_validate(yaml.safe_load(other))
    config = SimConfig.model_validate(yaml.safe_load(block))
    assert config.senders
    shown = set(config.model_fields_set) | set(config.senders[0].model_fields_set)
    every = set(SimConfig.model_fields) | set(SenderProfile.model_fields)
    assert every - shown == set()
