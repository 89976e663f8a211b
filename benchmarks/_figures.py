"""What a benchmark prints: figures, tables, progress; the flags every script takes."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO


@dataclass
class Figure:
    """One measured figure; ``passed`` is None when the figure has no target."""

    name: str
    measured: str
    target: str = "-"
    passed: bool | None = None
    value: float | None = None
    notes: str = ""

    @property
    def verdict(self) -> str:
        if self.passed is None:
            return "info"
        return "pass" if self.passed else "FAIL"


def rate(n: float, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def fmt_rate(value: float) -> str:
    return f"{value:,.0f} msg/s"


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO | None = None
) -> None:
    """A plain, aligned text table."""
    out = out or sys.stdout
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line, file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)), file=out)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def esc(cell: str) -> str:
        return str(cell).replace("|", "\\|")

    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


FIGURE_HEADERS = ("figure", "target", "measured", "pass/fail")


def figure_rows(figures: Sequence[Figure]) -> list[list[str]]:
    return [[f.name, f.target, f.measured, f.verdict] for f in figures]


def report(title: str, figures: Sequence[Figure], args: argparse.Namespace) -> None:
    """Print the figures as a table (markdown with ``--markdown``); save them for run_all."""
    print()
    print(f"== {title}")
    if args.markdown:
        print(markdown_table(FIGURE_HEADERS, figure_rows(figures)))
    else:
        print_table(FIGURE_HEADERS, figure_rows(figures))
    for f in figures:
        if f.notes:
            print(f"   {f.name}: {f.notes}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps([asdict(f) for f in figures], indent=1))


def load_figures(path: Path) -> list[Figure]:
    return [Figure(**item) for item in json.loads(path.read_text())]


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--redis-url",
        default=None,
        help="benchmark on this Redis (default: start a throwaway redis-server on a free port)",
    )
    parser.add_argument(
        "--redis-server",
        default=None,
        help="redis-server binary for the throwaway server (default: from PATH)",
    )
    parser.add_argument("--markdown", action="store_true", help="print the figures as markdown")
    parser.add_argument("--json-out", default=None, help=argparse.SUPPRESS)  # used by run_all
    return parser


def log(message: str) -> None:
    """Progress, on stderr, with a timestamp."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
