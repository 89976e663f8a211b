"""How a report reaches the operator: the ``View`` protocol, and ``PlainView`` (one
key=value line per period, for logs, pipes and CI). The rich dashboard is in live.py."""

from __future__ import annotations

import math
import sys
from typing import Protocol, TextIO, runtime_checkable

from common.format import duration
from monitor import figures as fig
from monitor.live import LiveView
from monitor.report import LABELS
from monitor.snapshot import Snapshot


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
    rep = snap.report
    fields: dict[str, object] = {
        "run": _token(rep.run),
        _key("elapsed"): f"{rep.elapsed:.1f}s",
        _key("sent"): f"{rep.sent}/{rep.total}",
        "pct": f"{100.0 * rep.sent / rep.total if rep.total else 100.0:.1f}",
        _key("rate"): f"{rep.rate:.1f}/s",
        _key("overall_rate"): f"{rep.overall_rate:.1f}/s",
        _key("predicted_rate"): _per_s(rep.predicted_rate),
        _key("eta"): fig.MISSING if rep.eta is None else f"{rep.eta:.1f}s",
        _key("failed"): rep.failed,
        _key("attempts"): rep.attempts,
        _key("failure_ratio"): f"{rep.failure_ratio or 0.0:.3f}",
        _key("avg_attempt_time"): f"{rep.avg_attempt_time:.4f}s",
        _key("avg_time_per_message"): f"{rep.avg_time_per_message:.4f}s",
        **{name: f"{value:.3f}s" for name, value in rep.latency.items()},
        _key("duplicates"): rep.duplicates,
        _key("abandoned"): rep.abandoned,
        _key("dead_letters"): rep.dead_letters,
        **rep.statuses,
    }
    return " ".join(f"{k}={v}" for k, v in fields.items())


def _key(figure: str) -> str:
    return LABELS[figure].plain


def _per_s(value: float) -> str:
    return "unbounded" if math.isinf(value) else f"{value:.1f}/s"


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
    rep = snap.report
    pairs = [
        (LABELS["sent"].text, f"{rep.sent} / {rep.total}"),
        (LABELS["failed"].text, str(rep.failed)),
        (LABELS["attempts"].text, str(rep.attempts)),
        (LABELS["avg_attempt_time"].text, f"{rep.avg_attempt_time:.4f} s"),
        (LABELS["avg_time_per_message"].text, f"{rep.avg_time_per_message:.4f} s"),
        (LABELS["overall_rate"].text, f"{rep.overall_rate:.2f} msg/s"),
        (LABELS["predicted_all"].text, fig.rate(rep.predicted_all)),
        (LABELS["latency"].text, " / ".join(f"{v:.4f}" for _, v in rep.latency.items()) + " s"),
        (LABELS["duplicates"].text, str(rep.duplicates)),
        (LABELS["abandoned"].text, str(rep.abandoned)),
        (LABELS["dead_letters"].text, str(rep.dead_letters)),
    ]
    width = max(len(label) for label, _ in pairs) + 2
    state = "complete" if rep.complete else "stopped"
    lines = [f"run {rep.run!r} {state} in {duration(rep.elapsed)}"]
    lines += [f"  {label:<{width}}{value}" for label, value in pairs]
    for row in rep.senders:
        lines.append(
            f"  {row.name}: status={row.status} sent={row.sent} failed_attempts={row.failed} "
            f"avg_attempt={row.avg_attempt_time:.4f}s fail_ratio={row.failure_ratio:.3f}"
        )
    return "\n".join(lines)
