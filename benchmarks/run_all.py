"""Run every benchmark with its defaults and print one markdown table for the README.

Each benchmark runs as its own process (``python benchmarks/<name>.py``), its output
passed through; then the machine and every figure (target, measured, pass/fail) are
printed as markdown. The machine's speed is measured before and after (the reference:
redis-py pipelined XADD, the yardstick the issue quotes), since this VM drifts. A
benchmark that fails shows up as a FAIL row with its exit code.

    uv run python benchmarks/run_all.py [--redis-url URL] [--skip memory] [--only producer_rate]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._figures import (
    FIGURE_HEADERS,
    Figure,
    figure_rows,
    fmt_rate,
    load_figures,
    log,
    markdown_table,
)
from benchmarks._machine import REFERENCE_QUOTED, machine, reference_xadd_rate

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("producer_rate", "monitor_rate", "end_to_end", "fidelity", "memory")


def run_one(name: str, extra: list[str]) -> tuple[list[Figure], float]:
    with tempfile.TemporaryDirectory(prefix="sms-bench-") as tmp:
        out = Path(tmp) / "figures.json"
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, str(HERE / f"{name}.py"), "--json-out", str(out), *extra],
            check=False,
        )
        elapsed = time.perf_counter() - started
        if done.returncode != 0 or not out.exists():
            return [Figure(name, f"error (exit {done.returncode})", passed=False)], elapsed
        return load_figures(out), elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--redis-url", default=None, help="run every benchmark on this Redis")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=None)
    parser.add_argument("--skip", nargs="+", choices=BENCHMARKS, default=[])
    args = parser.parse_args(argv)
    extra = ["--redis-url", args.redis_url] if args.redis_url else []
    names = [n for n in (args.only or BENCHMARKS) if n not in args.skip]
    figures: list[Figure] = []
    durations: list[tuple[str, float]] = []
    before = reference_xadd_rate(args.redis_url)
    log(f"reference: redis-py pipelined XADD {fmt_rate(before)} (quoted: ~200k msg/s)")
    for name in names:
        log(f"running {name}")
        got, elapsed = run_one(name, extra)
        figures += got
        durations.append((name, elapsed))
    print()
    print("## Benchmarks")
    print()
    after = reference_xadd_rate(args.redis_url)
    info = machine()
    info["reference, before / after"] = (
        f"{fmt_rate(before)} / {fmt_rate(after)} (redis-py pipelined XADD; the issue quotes "
        f"about {fmt_rate(REFERENCE_QUOTED)} for this machine kind)"
    )
    print(markdown_table(("machine", ""), list(info.items())))
    print()
    print(markdown_table(FIGURE_HEADERS, figure_rows(figures)))
    print()
    print("Run times: " + ", ".join(f"{n} {s:.0f} s" for n, s in durations))
    return 0


if __name__ == "__main__":
    sys.exit(main())
