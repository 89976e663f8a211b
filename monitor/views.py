"""How a report reaches the operator. ``PlainView``: one key=value line per period."""

from __future__ import annotations

import sys
from typing import Protocol, TextIO

from common.format import duration
from monitor.summary import Snapshot


class View(Protocol):
    def update(self, snap: Snapshot) -> None: ...

    def finish(self, snap: Snapshot) -> None: ...


def plain_line(snap: Snapshot) -> str:
    """One compact ``key=value`` line: for logs, pipes and CI (no escape codes)."""
    s = snap.stats
    total = snap.state.total
    pct = 100.0 * s.sent / total if total else 100.0
    fields = {
        "run": snap.run,
        "elapsed": f"{snap.elapsed:.1f}s",
        "sent": f"{s.sent}/{total}",
        "pct": f"{pct:.1f}",
        "failed_attempts": s.failed,
        "attempts": s.attempts,
        "avg_attempt": f"{s.avg_attempt_time:.4f}s",
        "avg_per_msg": f"{s.avg_time_per_message:.4f}s",
        "rate": f"{snap.throughput:.1f}/s",
        "p50": f"{s.latency.quantile(0.5):.3f}s",
        "p99": f"{s.latency.quantile(0.99):.3f}s",
        "dups": s.duplicates,
        "abandoned": snap.state.abandoned,
        "dead": snap.state.dead_letters,
    }
    return " ".join(f"{k}={v}" for k, v in fields.items())


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
    lines = [
        f"run {snap.run!r} {'complete' if snap.state.complete else 'stopped'} "
        f"in {duration(snap.elapsed)}",
        f"  sent (messages delivered)      {s.sent} / {snap.state.total}",
        f"  failed attempts                {s.failed}",
        f"  attempts                       {s.attempts}",
        f"  avg time/attempt               {s.avg_attempt_time:.4f} s",
        f"  avg time/message (w/ retries)  {s.avg_time_per_message:.4f} s",
        f"  throughput                     {snap.throughput:.2f} msg/s",
    ]
    for name, st in sorted(s.senders.items()):
        lines.append(
            f"  {name}: sent={st.sent} failed_attempts={st.failed} "
            f"avg_attempt={st.avg_attempt_time:.4f}s"
        )
    return "\n".join(lines)
