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


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_benchmark_prints_its_figure(name: str, redis_url: str, project_root: Path) -> None:
    args, figure = SCRIPTS[name]
    script = project_root / "benchmarks" / f"{name}.py"
    done = subprocess.run(
        [sys.executable, str(script), "--redis-url", redis_url, *args],
        cwd=project_root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert figure in done.stdout
