"""How a report reaches the operator: the ``View`` protocol, and ``PlainView`` (one
key=value line per period, for logs, pipes and CI). The rich dashboard is in live.py."""

from __future__ import annotations

import math
import sys
from typing import Protocol, TextIO, runtime_checkable

from monitor import figures as fig
from monitor.fleet import SenderRow
from monitor.live import LiveView
from monitor.quantiles import NAMES
from monitor.report import LABELS, PERCENTILE_FIGURES
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
    """One compact ``key=value`` line: no spaces inside values, no escape codes. In a
    compressed run it says ``times=simulated`` and the time scale, and gives the real
    elapsed time and ETA beside the simulated ones."""
    rep = snap.report
    fields: dict[str, object] = {"run": _token(rep.run)}
    if rep.compressed:
        fields |= {"times": "simulated", "time_scale": f"{rep.scale:g}"}
    fields[_key("elapsed")] = f"{rep.elapsed:.1f}s"
    if rep.compressed:
        fields["elapsed_real"] = f"{rep.elapsed_real:.1f}s"
    fields |= {
        _key("sent"): f"{rep.sent}/{rep.total}",
        "pct": f"{100.0 * rep.sent / rep.total if rep.total else 100.0:.1f}",
        _key("rate"): f"{rep.rate:.1f}/s",
        _key("overall_rate"): f"{rep.overall_rate:.1f}/s",
        _key("predicted_rate"): _per_s(rep.predicted_rate),
        _key("predicted_now"): _per_s(rep.predicted_now),
        _key("eta"): _seconds(rep.eta, ".1f"),
    }
    if rep.compressed:
        fields["eta_real"] = _seconds(None if rep.eta is None else rep.eta / rep.scale, ".1f")
    fields |= {
        _key("failed"): rep.failed,
        _key("attempts"): rep.attempts,
        _key("failure_ratio"): fig.ratio(rep.failure_ratio),
        _key("avg_attempt_time"): f"{rep.avg_attempt_time:.4f}s",
        _key("avg_time_per_message"): f"{rep.avg_time_per_message:.4f}s",
    }
    for figure in PERCENTILE_FIGURES:
        values = rep.percentiles(figure)
        for name in NAMES:
            value = getattr(values, name) if values else None
            fields[f"{_key(figure)}_{name}"] = _seconds(value, ".4f")
    fields |= {
        _key("duplicates"): rep.duplicates,
        _key("abandoned"): rep.abandoned,
        _key("undeliverable"): rep.undeliverable,
        _key("dead_letters"): rep.dead_letters,
        **rep.statuses,
    }
    return " ".join(f"{k}={v}" for k, v in fields.items())


def _key(figure: str) -> str:
    return LABELS[figure].plain


def _per_s(value: float | None) -> str:
    if value is None:
        return fig.MISSING
    return "unbounded" if math.isinf(value) else f"{value:.1f}/s"


def _seconds(value: float | None, spec: str) -> str:
    return fig.MISSING if value is None else f"{value:{spec}}s"


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
    """The final summary as plain text: every figure, then one line per sender."""
    rep = snap.report
    scale = rep.scale
    lines = [(rep.label(figure), value) for figure, value in rep.totals(_secs)]
    lines.append(("percentiles", " / ".join(NAMES)))
    for figure in PERCENTILE_FIGURES:
        values = rep.percentiles(figure)
        shown = " / ".join(f"{v:.4f}" for v in values.values()) + " s" if values else fig.MISSING
        lines.append((rep.label(figure), shown))
    width = max(len(label) for label, _ in lines) + 2
    state = "complete" if rep.complete else "stopped"
    text = [f"run {rep.run!r} {state} in {fig.span(rep.elapsed, scale, mark=True)}"]
    text += [f"  {label:<{width}}{value}" for label, value in lines]
    text += [f"  {_sender_line(row)}" for row in rep.senders]
    return "\n".join(text)


def _secs(value: float) -> str:
    return f"{value:.4f} s"


def _sender_line(row: SenderRow) -> str:
    cfg_mean = fig.MISSING if row.mean_time is None else f"{row.mean_time:.4f}s"
    cfg_fail = fig.ratio(row.failure_rate)
    attempt = "/".join(f"{v:.4f}" for v in row.attempt_time.values())
    line = (
        f"{row.name}: status={row.status} slots={row.concurrency} sent={row.sent} "
        f"share={fig.ratio(row.share)} failed_attempts={row.failed} "
        f"fail_ratio={fig.ratio(row.failure_ratio)} (cfg {cfg_fail}) "
        f"avg_attempt={row.avg_attempt_time:.4f}s (cfg {cfg_mean}) "
        f"attempt_p50/p95/p99={attempt}s"
    )
    return f"{line} error={row.error!r}" if row.error else line
