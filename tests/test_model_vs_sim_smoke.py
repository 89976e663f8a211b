"""benchmarks/model_vs_sim.py still runs: one fleet, --tiny (1 run, a few dozen messages,
a real Redis). Never asserts that the model and the simulator agree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_model_vs_sim_prints_its_table(redis_url: str, project_root: Path) -> None:
    script = project_root / "benchmarks" / "model_vs_sim.py"
    done = subprocess.run(
        [sys.executable, str(script), "--redis-url", redis_url, "--tiny", "--fleets", "account"],
        cwd=project_root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "model completion [band]" in done.stdout
    assert "mean within 2 %" in done.stdout
    rows = [line for line in done.stdout.splitlines() if line.startswith("account ")]
    assert rows, done.stdout
    assert any("pass" in row or "FAIL" in row for row in rows)
