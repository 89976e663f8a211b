"""Issue 25 item 1: the end of a run reaches Prometheus. ``sms-sim run --metrics-port``
keeps serving ``/metrics`` after its final report (``--metrics-hold`` seconds), so a
scrape after the run completed sees ``sms_sim_run_complete 1`` and the final counts; a
Ctrl-C ends the hold at once.

``sms-sim run`` runs as a process of its own (on its private Redis), scraped over HTTP
from here as Prometheus would.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.metrics_sample import scrape
from tests.processes import Role, clean_env, python_m
from tests.test_prometheus_server import free_port

RUN = "held"
CONFIG = """\
num_messages: 60
report_period: 0.2
senders:
  - {mean_time: 0.002, failure_rate: 0.3}
  - {mean_time: 0.003, failure_rate: 0.1, concurrency: 2}
"""


def values(text: str) -> dict[str, float]:
    """Each sample's name with its labels but ``le``, the values of one name and labels
    summed (per-profile series added up)."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if "le" in s.labels or s.name == "sms_sim_sender_info":
                continue
            key = s.name + ("{status=" + s.labels["status"] + "}" if "status" in s.labels else "")
            found[key] = found.get(key, 0.0) + s.value
    return found


def test_a_scrape_after_the_run_sees_it_complete_until_ctrl_c(tmp_path: Path) -> None:
    config = tmp_path / "held.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    port = free_port()
    args = ["run", str(config), "--run", RUN, "--plain", "--json", "--workers", "1"]
    args += ["--metrics-port", str(port), "--metrics-addr", "127.0.0.1"]
    argv = python_m("launcher", [*args, "--metrics-hold", "60"])
    sim = Role("sim", argv, clean_env(), logs=tmp_path)
    try:
        final = _until_complete(port, sim.process)
        _until_holding(sim)  # the run's roles have ended: the hold has begun
        time.sleep(0.5)
        assert sim.process.poll() is None  # the run is over; the endpoint stays
        assert scrape(port) == final  # the final values, unchanged
        sent = time.monotonic()
        sim.process.send_signal(signal.SIGINT)
        code = sim.collect(timeout=10)
        took = time.monotonic() - sent
    finally:
        sim.stop()
    out, err = sim.output(), sim.errors()
    assert code == 0, err
    assert took < 3, took  # at once, not after the 60 s hold
    assert "/metrics stopping (signal SIGINT)" in err
    summary = json.loads(out)
    assert summary["state"] == "complete"
    seen = values(final)
    assert seen["sms_sim_run_complete"] == 1
    assert seen["sms_sim_run_messages"] == summary["total"] == 60
    assert seen["sms_sim_messages_sent_total"] == summary["sent"] == 60
    assert seen["sms_sim_attempts_total"] == summary["attempts"]
    assert seen["sms_sim_failed_attempts_total"] == summary["failed_attempts"]
    assert seen["sms_sim_messages_remaining"] == 0
    assert seen["sms_sim_senders{status=done}"] == 2


def _until_holding(sim: Role, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while "keeping /metrics up 60s" not in sim.errors():
        assert time.monotonic() < deadline, sim.errors()
        assert sim.process.poll() is None, sim.errors()
        time.sleep(0.05)


def _until_complete(port: int, process: subprocess.Popen[str], within: float = 60.0) -> str:
    """The first scrape that says the run is complete."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            text = scrape(port)
        except OSError:
            text = ""
        if values(text).get("sms_sim_run_complete") == 1:
            return text
        assert process.poll() is None, "sms-sim run ended before a scrape saw the end"
        time.sleep(0.05)
    raise AssertionError("no scrape saw the run complete")
