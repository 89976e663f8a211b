"""How ``sms-sim runs``, ``show`` and ``compare`` print stored run summaries.

They read the JSON summary the monitor kept (``monitor/history.py``) and name each figure
as every view does (``monitor/report.py``'s LABELS). ``FIGURES`` is the one list of the
run-level figures shown; ``PROFILE_FIGURES`` those per sender profile (the senders of one
mean time and failure rate together, so runs whose senders are named differently still
compare).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from common.format import duration
from monitor import figures as fig
from monitor.history import StoredRun
from monitor.quantiles import NAMES
from monitor.report import LABELS

Summary = dict[str, Any]
Value = float | str | None
COUNT, SECONDS, DURATION, RATE, RATIO, TEXT = "count", "s", "duration", "rate", "ratio", "text"


@dataclass(frozen=True)
class Figure:
    label: str
    kind: str
    value: Callable[[Summary], Value]


def _get(name: str) -> Callable[[Summary], Value]:
    return lambda s: s.get(name)


def _pct(name: str, q: str) -> Callable[[Summary], Value]:
    def value(s: Summary) -> Value:
        found = s.get(name)
        return found.get(q) if isinstance(found, dict) else None

    return value


def _predicted(s: Summary) -> Value:
    value = s.get("predicted_rate")
    return math.inf if value is None else value  # null: unbounded (a zero-delay sender)


def _percentiles(figure: str, field: str) -> list[Figure]:
    return [Figure(f"{LABELS[figure].text} {q}", SECONDS, _pct(field, q)) for q in NAMES]


FIGURES: tuple[Figure, ...] = (
    Figure(LABELS["state"].text, TEXT, _get("state")),
    Figure("total", COUNT, _get("total")),
    Figure(LABELS["sent"].text, COUNT, _get("sent")),
    Figure(LABELS["elapsed"].text, DURATION, _get("elapsed")),
    Figure(LABELS["overall_rate"].text, RATE, _get("throughput")),
    Figure(LABELS["predicted_rate"].text, RATE, _predicted),
    Figure(LABELS["failed"].text, COUNT, _get("failed_attempts")),
    Figure(LABELS["attempts"].text, COUNT, _get("attempts")),
    Figure(LABELS["failure_ratio"].text, RATIO, _get("failure_ratio")),
    Figure(LABELS["avg_attempt_time"].text, SECONDS, _get("avg_attempt_time")),
    Figure(LABELS["avg_time_per_message"].text, SECONDS, _get("avg_time_per_message")),
    *_percentiles("delivery_time", "delivery_time"),
    *_percentiles("queue_wait", "latency"),
    *_percentiles("attempt_time", "attempt_time"),
    Figure(LABELS["duplicates"].text, COUNT, _get("duplicates_suppressed")),
    Figure(LABELS["abandoned"].text, COUNT, _get("abandoned")),
    Figure(LABELS["dead_letters"].text, COUNT, _get("dead_letters")),
)


_SHOW: dict[str, Callable[[float], str]] = {
    COUNT: lambda v: str(int(v)),
    RATE: fig.rate,
    RATIO: fig.ratio,
    DURATION: lambda v: f"{v:.3f} s" if v < 60 else duration(v),
    SECONDS: lambda v: f"{v:.4f} s",
}


def show_value(kind: str, value: Value) -> str:
    if value is None:
        return fig.MISSING
    if kind == TEXT or isinstance(value, str):
        return str(value)
    return _SHOW[kind](value)


def difference(kind: str, a: Value, b: Value) -> str:
    """B against A: ``+12 (+4.5%)``, ``-1.2000 s (-3.4%)``, ``+0.3 pts``; empty when
    equal, ``-`` when either is unknown."""
    if a is None or b is None or kind == TEXT or isinstance(a, str) or isinstance(b, str):
        return "" if a == b else fig.MISSING
    if a == b:
        return ""
    if math.isinf(a) or math.isinf(b):
        return fig.MISSING
    delta = b - a
    if kind == RATIO:
        return f"{100 * delta:+.1f} pts"
    sign = "+" if delta > 0 else "-"
    shown = {
        COUNT: f"{sign}{abs(int(delta))}",
        RATE: f"{sign}{abs(delta):.1f} msg/s",
        DURATION: sign + _SHOW[DURATION](abs(delta)),
    }.get(kind, f"{sign}{abs(delta):.4f} s")
    return f"{shown} ({100 * delta / a:+.1f}%)" if a else shown


# --- per sender profile ----------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """The senders of one run with one profile (mean time, failure rate), together."""

    mean_time: float | None
    failure_rate: float | None
    senders: tuple[Summary, ...]

    @property
    def label(self) -> str:
        mean = fig.MISSING if self.mean_time is None else f"{self.mean_time:g} s"
        return f"mean {mean}, failure rate {fig.ratio(self.failure_rate)}"

    def total(self, field: str) -> int:
        return sum(int(s.get(field) or 0) for s in self.senders)

    @property
    def failure_ratio(self) -> float | None:
        attempts = self.total("attempts")
        return self.total("failed_attempts") / attempts if attempts else None

    @property
    def avg_attempt_time(self) -> float | None:
        attempts = self.total("attempts")
        spent = sum(float(s.get("avg_attempt_time") or 0) * int(s.get("attempts") or 0)
                    for s in self.senders)  # fmt: skip
        return spent / attempts if attempts else None


PROFILE_FIGURES: tuple[tuple[str, str, Callable[[Profile], Value]], ...] = (
    ("senders", COUNT, lambda p: len(p.senders)),
    ("slots", COUNT, lambda p: p.total("concurrency")),
    (LABELS["sent"].short, COUNT, lambda p: p.total("sent")),
    ("share", RATIO, lambda p: sum(float(s.get("share") or 0) for s in p.senders)),
    (LABELS["failed"].text, COUNT, lambda p: p.total("failed_attempts")),
    (LABELS["attempts"].text, COUNT, lambda p: p.total("attempts")),
    (LABELS["failure_ratio"].short, RATIO, lambda p: p.failure_ratio),
    (LABELS["avg_attempt_time"].text, SECONDS, lambda p: p.avg_attempt_time),
)


def _profile_key(sender: Summary) -> tuple[float, float]:
    mean, fail = sender.get("mean_time"), sender.get("failure_rate")
    return (math.inf if mean is None else mean, math.inf if fail is None else fail)


def profiles(summary: Summary) -> dict[tuple[float, float], Profile]:
    """The run's senders grouped by profile, ordered by mean time then failure rate."""
    groups: dict[tuple[float, float], list[Summary]] = {}
    for sender in summary.get("senders") or []:
        groups.setdefault(_profile_key(sender), []).append(sender)
    return {
        key: Profile(group[0].get("mean_time"), group[0].get("failure_rate"), tuple(group))
        for key, group in sorted(groups.items())
    }


# --- the three commands' text ----------------------------------------------------------


def when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch)) if epoch else fig.MISSING


def table(rows: Iterable[Iterable[str]], indent: str = "") -> str:
    """Columns padded to their widest cell, the first left-aligned, the rest right."""
    cells = [list(row) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = []
    for row in cells:
        padded = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append(indent + "  ".join(padded).rstrip())
    return "\n".join(lines)


LIST_HEADER = ("run", "finished", "state", "sent", "total", "elapsed", "overall rate",
               "failure ratio", "queue wait p95", "senders")  # fmt: skip


def runs_text(runs: list[StoredRun]) -> str:
    if not runs:
        return "no finished runs kept on this Redis"
    rows = [LIST_HEADER]
    for stored in runs:
        s = stored.summary
        rows.append(
            (
                stored.run,
                when(stored.finished),
                str(s.get("state", fig.MISSING)),
                show_value(COUNT, s.get("sent")),
                show_value(COUNT, s.get("total")),
                show_value(DURATION, s.get("elapsed")),
                show_value(RATE, s.get("throughput")),
                show_value(RATIO, s.get("failure_ratio")),
                show_value(SECONDS, _pct("latency", "p95")(s)),
                str(len(s.get("senders") or [])),
            )
        )
    return table(rows)


def show_text(stored: StoredRun) -> str:
    s = stored.summary
    head = f"run {stored.run!r}: created {when(stored.created)}, finished {when(stored.finished)}"
    rows = [(f.label, show_value(f.kind, f.value(s))) for f in FIGURES]
    lines = [head, table(rows, "  "), "per sender:"]
    sender_rows = [("name", "mean", "fail", "slots", "sent", "share", "failed attempts",
                    "attempts", "avg time/attempt", "obs fail")]  # fmt: skip
    for sender in s.get("senders") or []:
        sender_rows.append(
            (
                str(sender.get("name")),
                show_value(SECONDS, sender.get("mean_time")),
                show_value(RATIO, sender.get("failure_rate")),
                show_value(COUNT, sender.get("concurrency")),
                show_value(COUNT, sender.get("sent")),
                show_value(RATIO, sender.get("share")),
                show_value(COUNT, sender.get("failed_attempts")),
                show_value(COUNT, sender.get("attempts")),
                show_value(SECONDS, sender.get("avg_attempt_time")),
                show_value(RATIO, sender.get("failure_ratio")),
            )
        )
    lines.append(table(sender_rows, "  "))
    return "\n".join(lines)


def compare_text(a: StoredRun, b: StoredRun) -> str:
    """The two runs side by side, B's difference from A, then per sender profile."""
    rows = [("", a.run, b.run, "difference")]
    for f in FIGURES:
        rows.append(_compared(f.label, f.kind, f.value(a.summary), f.value(b.summary)))
    pa, pb = profiles(a.summary), profiles(b.summary)
    for key in sorted(pa.keys() | pb.keys()):
        first, second = pa.get(key), pb.get(key)
        shown = first or second
        assert shown is not None
        rows.append((f"profile {shown.label}", "", "", ""))
        for name, kind, value in PROFILE_FIGURES:
            va = value(first) if first else None
            vb = value(second) if second else None
            rows.append(_compared(f"  {name}", kind, va, vb))
    return table(rows)


def _compared(label: str, kind: str, a: Value, b: Value) -> tuple[str, str, str, str]:
    return label, show_value(kind, a), show_value(kind, b), difference(kind, a, b)


def as_json(stored: StoredRun) -> dict[str, Any]:
    """One run of ``sms-sim runs --json``: its times and its summary."""
    return {
        "run": stored.run,
        "created": stored.created,
        "finished": stored.finished,
        "summary": stored.summary,
    }
