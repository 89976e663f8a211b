"""The benchmark scripts still run (tiny N, real Redis). Never asserts a speed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = {
    "producer_rate": (["--n", "2000", "--no-process"], "producer enqueue rate"),
    "monitor_rate": (["--n", "2000"], "monitor ingestion rate"),
    "end_to_end": (
        ["--n", "1000", "--naive-n", "200", "--no-backlog-variant", "--timeout", "60"],
        "ratio ours / naive",
    ),
    "timed_path": (
        ["--scales", "20", "--warmup", "2", "--window", "2", "--count", "100000"],
        "process / Redis CPU",
    ),
    "time_scale": (
        ["--only", "national", "--n-national", "2000", "--scales", "5", "20"],
        "national: largest faithful time scale",
    ),
}


def run_benchmark(
    name: str, args: list[str], redis_url: str, root: Path
) -> subprocess.CompletedProcess[str]:
    """``benchmarks/NAME.py ARGS`` on ``redis_url``: it must exit 0."""
    done = subprocess.run(
        [sys.executable, str(root / "benchmarks" / f"{name}.py"), "--redis-url", redis_url, *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_benchmark_prints_its_figure(name: str, redis_url: str, project_root: Path) -> None:
    args, figure = SCRIPTS[name]
    assert figure in run_benchmark(name, args, redis_url, project_root).stdout


def test_model_vs_sim_prints_its_table(redis_url: str, project_root: Path) -> None:
    """benchmarks/model_vs_sim.py: one fleet, --tiny (1 run, a few dozen messages). Never
    asserts that the model and the simulator agree."""
    args = ["--tiny", "--fleets", "account"]
    out = run_benchmark("model_vs_sim", args, redis_url, project_root).stdout
    assert "model completion [band]" in out
    assert "mean within 2 %" in out
    rows = [line for line in out.splitlines() if line.startswith("account ")]
    assert rows, out
    assert any("pass" in row or "FAIL" in row for row in rows)
