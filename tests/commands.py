"""Running a command's ``main`` in the test process: its exit code and what it printed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

Main = Callable[[list[str]], None]


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def error(self) -> str:
        """The one error line (there must be exactly one)."""
        lines = [x for x in self.output.splitlines() if "error:" in x]
        assert len(lines) == 1, self.output
        return lines[0]


Runner = Callable[[Main, list[str]], Outcome]


def runner_for(capsys: pytest.CaptureFixture[str]) -> Runner:
    def invoke(main: Main, args: list[str]) -> Outcome:
        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return Outcome(code, out, err)

    return invoke
