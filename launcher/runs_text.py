"""How ``sms-sim runs``, ``show`` and ``compare`` print stored run summaries.

They read the JSON summary the monitor kept (``monitor/views/history.py``) and show every
figure of the catalogue (``monitor/figures/catalogue.py``) by its label, read back by its
JSON name (a figure an older summary lacks shows ``-``). ``PROFILE_FIGURES`` are those
per sender profile (the senders of one mean time and failure rate together, so runs whose
senders are named differently still compare).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from common.errors import SimError
from common.format import duration
from monitor.figures.catalogue import FIGURES, SENDER_FIGURES, Kind
from monitor.figures.thresholds import Verdict, parse
from monitor.tally.quantiles import NAMES
from monitor.views import formatting as fig
from monitor.views.history import StoredRun

Summary = dict[str, Any]
Value = float | str | None
UNBOUNDED_WHEN_NULL = frozenset({"predicted_rate"})  # null there: a zero-delay sender


@dataclass(frozen=True)
class Figure:
    label: str
    kind: Kind
    value: Callable[[Summary], Value]


def _get(name: str, unbounded: bool = False) -> Callable[[Summary], Value]:
    def value(s: Summary) -> Value:
        found = s.get(name)
        return math.inf if found is None and unbounded and name in s else found

    return value


def _pct(name: str, q: str) -> Callable[[Summary], Value]:
    def value(s: Summary) -> Value:
        found = s.get(name)
        return found.get(q) if isinstance(found, dict) else None

    return value


def _figures() -> tuple[Figure, ...]:
    """A row per figure of the catalogue (per percentile)."""
    found = []
    for f in FIGURES:
        label = f.label.text
        if f.kind is Kind.PERCENTILES:
            found += [Figure(f"{label} {q}", Kind.SECONDS, _pct(f.json, q)) for q in NAMES]
        else:
            found.append(Figure(label, f.kind, _get(f.json, f.key in UNBOUNDED_WHEN_NULL)))
    return tuple(found)


FIGURES_SHOWN = _figures()

_SHOW: dict[Kind, Callable[[float], str]] = {
    Kind.COUNT: lambda v: str(int(v)),
    Kind.RATE: fig.rate,
    Kind.RATIO: fig.ratio,
    Kind.SPAN: lambda v: f"{v:.3f} s" if v < 60 else duration(v),
    Kind.SECONDS: lambda v: f"{v:.4f} s",
}
_SHOW[Kind.FINISH] = _SHOW[Kind.SPAN]


def show_value(kind: Kind, value: Value) -> str:
    if value is None:
        return fig.MISSING
    if kind in (Kind.STATE, Kind.TEXT) or isinstance(value, str):
        return str(value)
    return _SHOW[kind](value)


def difference(kind: Kind, a: Value, b: Value) -> str:
    """B against A: ``+12 (+4.5%)``, ``-1.2000 s (-3.4%)``, ``+0.3 pts``; empty when
    equal, ``-`` when either is unknown."""
    text = kind in (Kind.STATE, Kind.TEXT)
    if a is None or b is None or text or isinstance(a, str) or isinstance(b, str):
        return "" if a == b else fig.MISSING
    if a == b:
        return ""
    if math.isinf(a) or math.isinf(b):
        return fig.MISSING
    delta = b - a
    if kind is Kind.RATIO:
        return f"{100 * delta:+.1f} pts"
    sign = "+" if delta > 0 else "-"
    shown = {
        Kind.COUNT: f"{sign}{abs(int(delta))}",
        Kind.RATE: f"{sign}{abs(delta):.1f} msg/s",
        Kind.SPAN: sign + _SHOW[Kind.SPAN](abs(delta)),
        Kind.FINISH: sign + _SHOW[Kind.SPAN](abs(delta)),
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


PROFILE_FIGURES: tuple[tuple[str, Kind, Callable[[Profile], Value]], ...] = (
    ("senders", Kind.COUNT, lambda p: len(p.senders)),
    ("slots", Kind.COUNT, lambda p: p.total("concurrency")),
    ("sent", Kind.COUNT, lambda p: p.total("sent")),
    ("share", Kind.RATIO, lambda p: sum(float(s.get("share") or 0) for s in p.senders)),
    ("failed attempts", Kind.COUNT, lambda p: p.total("failed_attempts")),
    ("attempts", Kind.COUNT, lambda p: p.total("attempts")),
    ("duplicates suppressed", Kind.COUNT, lambda p: p.total("duplicates_suppressed")),
    ("failure ratio", Kind.RATIO, lambda p: p.failure_ratio),
    ("avg time/attempt", Kind.SECONDS, lambda p: p.avg_attempt_time),
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
                show_value(Kind.COUNT, s.get("sent")),
                show_value(Kind.COUNT, s.get("total")),
                show_value(Kind.SPAN, s.get("elapsed")),
                show_value(Kind.RATE, s.get("throughput")),
                show_value(Kind.RATIO, s.get("failure_ratio")),
                show_value(Kind.SECONDS, _pct("latency", "p95")(s)),
                str(len(s.get("senders") or [])),
            )
        )
    return table(rows)


def show_text(stored: StoredRun) -> str:
    s = stored.summary
    head = f"run {stored.run!r}: created {when(stored.created)}, finished {when(stored.finished)}"
    if s.get("lateness_distorted"):
        p99 = show_value(Kind.SECONDS, _pct("lateness", "p99")(s))
        head += (
            f"\n  ! lateness distorted this run: 1 % of its attempts ended {p99} (simulated) or"
            " more after they were due; it is slower than its fleet would be"
        )
    rows = [(f.label, show_value(f.kind, f.value(s))) for f in FIGURES_SHOWN]
    sender_rows = [("name", *(label for label, _ in _sender_columns()))]
    for sender in s.get("senders") or []:
        cells = (show_value(kind, value(sender)) for _, (kind, value) in _sender_columns())
        sender_rows.append((str(sender.get("name")), *cells))
    shown = [head, table(rows, "  "), "per sender:", table(sender_rows, "  ")]
    return "\n".join([*shown, *_thresholds(s)])


def _thresholds(s: Summary) -> list[str]:
    """The run's thresholds as its summary kept them: a heading, then a line each."""
    kept = s.get("thresholds")
    if not isinstance(kept, list) or not kept:
        return []
    rows, good = [], 0
    for item in kept:
        if not isinstance(item, dict):
            continue
        figure, condition = str(item.get("figure")), str(item.get("condition"))
        passed, value = item.get("passed"), item.get("value")
        good += passed is True
        try:
            (threshold,) = parse({figure: condition})
            number = float(value) if isinstance(value, int | float) else None
            shown = fig.verdict_value(Verdict(threshold, number, passed))
        except (SimError, TypeError, ValueError):
            shown = str(value)
        status = fig.UNJUDGED if passed is None else fig.PASSED if passed else fig.FAILED
        rows.append((status, f"{figure} {condition}", shown))
    return [f"thresholds: {good} of {len(rows)} passed", table(rows, "  ")]


def _sender_columns() -> list[tuple[str, tuple[Kind, Callable[[Summary], Value]]]]:
    """A column per sender figure of the catalogue (per percentile)."""
    found = []
    for f in SENDER_FIGURES:
        header = f.header.replace("\n", " ")
        if f.kind is Kind.PERCENTILES:
            found += [(f"{header} {q}", (Kind.SECONDS, _pct(f.json, q))) for q in NAMES]
        else:
            found.append((header, (f.kind, _get(f.json))))
    return found


def compare_text(a: StoredRun, b: StoredRun) -> str:
    """The two runs side by side, B's difference from A, then per sender profile."""
    rows = [("", a.run, b.run, "difference")]
    for f in FIGURES_SHOWN:
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


def _compared(label: str, kind: Kind, a: Value, b: Value) -> tuple[str, str, str, str]:
    return label, show_value(kind, a), show_value(kind, b), difference(kind, a, b)


def as_json(stored: StoredRun) -> dict[str, Any]:
    """One run of ``sms-sim runs --json``: its times and its summary."""
    return {
        "run": stored.run,
        "created": stored.created,
        "finished": stored.finished,
        "summary": stored.summary,
    }
