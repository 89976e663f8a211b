"""Role processes for tests and benchmarks: their environment, starting, output, stopping."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from tests.support import ROOT, stop_process

ROLE_PREFIXES = ("SENDER_", "PRODUCER_", "MONITOR_", "SMS_")
ROLE_VARIABLES = ("REDIS_URL", "REDIS_GIVE_UP", "LOG_LEVEL")


def clean_env() -> dict[str, str]:
    """This process's environment without any role setting (they would leak into roles)."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(ROLE_PREFIXES) and k not in ROLE_VARIABLES
    }


def role_env(
    redis_url: str, run: str, extra: Mapping[str, str] | None = None, *, log_level: str = "INFO"
) -> dict[str, str]:
    """The environment of a role process: this Redis and run, no stray settings."""
    env = clean_env()
    env.update({"REDIS_URL": redis_url, "SMS_RUN": run, "LOG_LEVEL": log_level})
    env.update(extra or {})
    return env


def python_m(module: str, args: Sequence[str] = ()) -> list[str]:
    """The command line of ``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def in_own_group(argv: Sequence[str], env: Mapping[str, str], **kw: Any) -> subprocess.Popen[str]:
    """``argv`` as a shell starts it: a process group of its own (a signal sent to the
    group reaches it and whatever it starts), its output on pipes."""
    return subprocess.Popen(
        list(argv),
        env=dict(env),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **kw,
    )


class Role:
    """A role process with a name: ``python -m module`` (``python_m``) or a console script.

    Its stdout and stderr go to pipes (``collect`` reads them at the end), or with ``logs``
    to files in that folder: ``<name>.out`` and ``<name>.err``, or with ``merge`` both to
    ``<name>.log``."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        logs: Path | None = None,
        *,
        merge: bool = False,
    ) -> None:
        self.name = name
        self.files: tuple[Path, Path | None] | None = None
        self._piped: tuple[str, str] | None = None
        with ExitStack() as opened:
            stdout: int | IO[Any] = subprocess.PIPE
            stderr: int | IO[Any] = subprocess.PIPE
            if logs is not None:
                out = logs / f"{name}.log" if merge else logs / f"{name}.out"
                err = None if merge else logs / f"{name}.err"
                self.files = (out, err)
                stdout = opened.enter_context(out.open("wb"))
                stderr = opened.enter_context(err.open("wb")) if err else subprocess.STDOUT
            self.process = subprocess.Popen(
                list(argv),
                env=dict(env),
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                text=True,
            )

    def collect(self, timeout: float | None = None) -> int:
        """Wait for the end (reading the pipes, if any); the exit code."""
        if self.files is None and self._piped is None:
            self._piped = self.process.communicate(timeout=timeout)
        return self.process.wait(timeout)

    def output(self) -> str:
        """What it wrote to stdout so far (through pipes: what ``collect`` read)."""
        return self._text(0)

    def errors(self, tail: int | None = None) -> str:
        """What it wrote to stderr so far; only the last ``tail`` lines if given."""
        text = self._text(1)
        return text if tail is None else "\n".join(text.splitlines()[-tail:])

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM, then SIGKILL if it has not ended within ``timeout`` seconds."""
        stop_process(self.process, timeout)

    def _text(self, which: int) -> str:
        if self.files is None:
            return self._piped[which] if self._piped else ""
        path = self.files[which]
        return path.read_text(encoding="utf-8", errors="replace") if path else ""


def spawn(module: str, args: Sequence[str], env: Mapping[str, str]) -> Role:
    """Start ``python -m module args`` (a role) as its own OS process, output to pipes."""
    return Role(module, python_m(module, args), env)


def finish(role: Role, timeout: float = 60) -> tuple[int, str, str]:
    """Wait for a role to end: its exit code, stdout and stderr."""
    code = role.collect(timeout)
    return code, role.output(), role.errors()


def stop_all(roles: Sequence[Role]) -> None:
    """Stop whatever is still running (a failure must not leave processes behind)."""
    for role in roles:
        role.stop()
