"""How a report reaches the operator: the ``View`` protocol, and ``PlainView`` (one
key=value line per period, for logs, pipes and CI). The rich dashboard is in live.py."""

from __future__ import annotations

import math
import sys
from collections import Counter
from typing import Protocol, TextIO, runtime_checkable

from common.format import duration
from monitor import figures as fig
from monitor.fleet import fleet
from monitor.health import GONE, IDLE, LIVE
from monitor.live import LiveView
from monitor.rates import predicted_rate, rates
from monitor.summary import Snapshot


class View(Protocol):
    def update(self, snap: Snapshot) -> None: ...

    def finish(self, snap: Snapshot) -> None: ...


@runtime_checkable
class Closable(Protocol):
    """A view holding the terminal (the live dashboard) releases it in ``close``."""

    def close(self) -> None: ...


def close_view(view: View) -> None:
    if isinstance(view, Closable):
        view.close()


def make_view(plain: bool, *, tty: bool | None = None) -> View:
    """The live dashboard when stderr is a terminal; plain key=value lines otherwise
    (docker logs, pipes, CI) or with --plain. ``tty`` overrides the detection."""
    if tty is None:
        tty = sys.stderr.isatty()
    return PlainView() if plain or not tty else LiveView()


def plain_line(snap: Snapshot) -> str:
    """One compact ``key=value`` line: no spaces inside values, no escape codes."""
    s = snap.stats
    total = snap.state.total
    rows = fleet(snap)
    r = rates(snap, rows)
    status = Counter(row.status for row in rows)
    fields: dict[str, object] = {
        "run": _token(snap.run),
        "elapsed": f"{snap.elapsed:.1f}s",
        "sent": f"{s.sent}/{total}",
        "pct": f"{100.0 * s.sent / total if total else 100.0:.1f}",
        "rate": f"{r.current:.1f}/s",
        "avg_rate": f"{r.overall:.1f}/s",
        "pred_rate": "unbounded" if math.isinf(r.predicted) else f"{r.predicted:.1f}/s",
        "eta": fig.MISSING if r.eta is None else f"{r.eta:.1f}s",
        "failed_attempts": s.failed,
        "attempts": s.attempts,
        "fail_ratio": f"{s.failed / s.attempts if s.attempts else 0.0:.3f}",
        "avg_attempt": f"{s.avg_attempt_time:.4f}s",
        "avg_per_msg": f"{s.avg_time_per_message:.4f}s",
        **{f"p{q}": f"{s.latency.quantile(q / 100):.3f}s" for q in (50, 95, 99)},
        "dups": s.duplicates,
        "abandoned": snap.state.abandoned,
        "dead": snap.state.dead_letters,
        **{name: status[name] for name in (LIVE, IDLE, GONE)},
    }
    return " ".join(f"{k}={v}" for k, v in fields.items())


def _token(text: str) -> str:
    """``text`` as one key=value token: whitespace and ``=`` replaced by ``_``."""
    return "".join("_" if ch.isspace() or ch == "=" else ch for ch in text) or "_"


class PlainView:
    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stderr

    def update(self, snap: Snapshot) -> None:
        print(plain_line(snap), file=self.out, flush=True)

    def finish(self, snap: Snapshot) -> None:
        print(plain_line(snap), file=self.out)
        print(final_text(snap), file=self.out, flush=True)


def final_text(snap: Snapshot) -> str:
    s = snap.stats
    rows = fleet(snap)
    lat = " / ".join(f"{s.latency.quantile(q):.4f}" for q in (0.5, 0.95, 0.99))
    lines = [
        f"run {snap.run!r} {'complete' if snap.state.complete else 'stopped'} "
        f"in {duration(snap.elapsed)}",
        f"  sent (messages delivered)      {s.sent} / {snap.state.total}",
        f"  failed attempts                {s.failed}",
        f"  attempts                       {s.attempts}",
        f"  avg time/attempt               {s.avg_attempt_time:.4f} s",
        f"  avg time/message (w/ retries)  {s.avg_time_per_message:.4f} s",
        f"  throughput                     {snap.throughput:.2f} msg/s",
        f"  predicted rate (profiles)      {fig.rate(predicted_rate(rows, True))}",
        f"  latency p50 / p95 / p99        {lat} s",
        f"  duplicates suppressed          {s.duplicates}",
        f"  abandoned                      {snap.state.abandoned}",
        f"  dead letters                   {snap.state.dead_letters}",
    ]
    for row in rows:
        lines.append(
            f"  {row.name}: status={row.status} sent={row.sent} failed_attempts={row.failed} "
            f"avg_attempt={row.avg_attempt_time:.4f}s fail_ratio={row.failure_ratio:.3f}"
        )
    return "\n".join(lines)
