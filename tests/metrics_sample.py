"""A small ``sms-sim run`` in this process, on the embedded Redis, with the Prometheus
endpoint on a free port: what a scrape returns after the run, and the JSON summary.

``python -m tests.metrics_sample`` prints that exposition (CI pipes it into
``promtool check metrics``).
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launcher.simulate import plan, simulate
from monitor.views.json_summary import summary
from monitor.views.metrics import MetricsExporter
from monitor.views.outputs import Tee
from monitor.views.plain import PlainView

CONFIG = (
    "num_messages: 120\nreport_period: 0.1\nsenders:\n"
    "  - {mean_time: 0.002, failure_rate: 0.4}\n"
    "  - {mean_time: 0.004, failure_rate: 0.1, concurrency: 2}\n"
)


@dataclass(frozen=True)
class Sample:
    exposition: str  # what GET /metrics returned after the run
    summary: dict[str, Any]  # the run's JSON summary


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        body: bytes = reply.read()
    return body.decode()


async def sample(folder: Path, run: str = "sample") -> Sample:
    """Run CONFIG to completion with the endpoint up; scrape it once the run is done."""
    config = folder / "sample.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    the_plan = plan({"config": config, "run": run, "seed": 7, "redis_url": None})
    exporter = MetricsExporter()
    port = exporter.serve(0, "127.0.0.1")
    try:
        view = Tee(PlainView(io.StringIO()), [exporter])
        snap = await simulate(the_plan, view, asyncio.Event())
        assert snap is not None
        return Sample(await asyncio.to_thread(scrape, port), summary(snap))
    finally:
        exporter.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        found = asyncio.run(sample(Path(folder)))
    sys.stdout.write(found.exposition)
    print(json.dumps(found.summary), file=sys.stderr)


if __name__ == "__main__":
    main()
