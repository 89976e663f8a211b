"""Issue 25 item 4: the metrics change as results are read, not only at each report (a
counter that moves once a report period makes ``rate()`` saw-tooth).

A run in this process whose report period (30 s) is longer than the run: its only
reports are the first and the last, yet scrapes during the run see the counts grow.
"""

from __future__ import annotations

import asyncio
import io
import threading
from pathlib import Path

import pytest

from launcher.simulate import plan, simulate
from monitor.views.metrics import MetricsExporter
from monitor.views.outputs import Tee
from monitor.views.plain import PlainView
from tests.metrics_sample import scrape
from tests.monitor.views.test_metrics import by_label

CONFIG = """\
num_messages: 200
report_period: 30
senders:
  - {mean_time: 0.01, failure_rate: 0.2}
  - {mean_time: 0.01, failure_rate: 0.2}
"""


class Scraper(threading.Thread):
    """Scrapes ``port`` every 50 ms until told to stop: what each scrape said was sent."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.sent: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            self.sent.append(
                sum(by_label(scrape(self.port), "sms_sim_messages_sent_total").values())
            )


async def test_scrapes_between_two_reports_see_the_counts_grow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("REDIS_URL", "SMS_RUN", "SMS_CONFIG", "SMS_WORKERS"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "live.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    the_plan = plan({"config": config, "run": "live", "seed": 5, "redis_url": None, "workers": 1})
    exporter = MetricsExporter()
    reports: list[int] = []

    class Counting(PlainView):
        def update(self, rep: object) -> None:
            reports.append(1)
            super().update(rep)  # type: ignore[arg-type]

    scraper = Scraper(exporter.serve(0, "127.0.0.1"))
    try:
        scraper.start()
        rep = await simulate(the_plan, Tee(Counting(io.StringIO()), [exporter]), asyncio.Event())
    finally:
        scraper.done.set()
        await asyncio.to_thread(scraper.join)
        exporter.close()
    assert rep is not None and rep.complete and rep.sent == 200
    assert len(reports) == 1  # the first report only, then the final one (finish)
    during = sorted({n for n in scraper.sent if 0 < n < 200})
    assert len(during) >= 5, scraper.sent  # counts as read, many times over the run
    assert scraper.sent == sorted(scraper.sent)  # a counter: it never falls
