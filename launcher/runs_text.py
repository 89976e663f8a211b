"""How ``sms-sim runs``, ``show`` and ``compare`` print stored run summaries.

They read the JSON summary the monitor kept (``monitor/views/history.py``) and show every
figure of the catalogue (``monitor/figures/catalogue.py``) by its label, read back by its
JSON name (a figure an older summary lacks shows ``-``): percentiles as their whole
ladder, the failures by reason, and the configuration the run ran (``compare``: the keys
that differ). A run compressed in time says so: its times are simulated, at its scale
(``x20``). ``PROFILE_FIGURES`` are those per sender profile (the senders of one mean time
and failure rate together, so runs whose senders are named differently still compare).
``sms-sim runs`` also lists the runs without a summary (``launcher/runs.py``:
``running``, ``interrupted``, or ``complete`` with no summary kept).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from common.errors import SimError
from common.format import duration
from launcher.runs import Listed, Unfinished
from monitor.figures.catalogue import FIGURES, SENDER_FIGURES, Kind
from monitor.figures.thresholds import Verdict, parse
from monitor.tally.failures import KINDS
from monitor.tally.quantiles import LABELS, NAMES, SHORT
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


def _figures(ladders: bool = True) -> tuple[Figure, ...]:
    """A row per figure of the catalogue (``ladders``: per percentile of the whole
    ladder; else none for the percentiles)."""
    found = []
    for f in FIGURES:
        label = f.label.text
        if f.kind is Kind.PERCENTILES:
            if ladders:
                found += [
                    Figure(f"{label} {LABELS[q]}", Kind.SECONDS, _pct(f.json, q)) for q in NAMES
                ]
        else:
            found.append(Figure(label, f.kind, _get(f.json, f.key in UNBOUNDED_WHEN_NULL)))
    return tuple(found)


FIGURES_SHOWN = _figures()
PLAIN_FIGURES = _figures(ladders=False)  # show's rows; its percentiles are a table

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


LIST_HEADER = ("run", "finished", "state", "sent", "total", "elapsed", "predicted", "times",
               "overall rate", "failure ratio", "queue wait p95", "senders")  # fmt: skip


def scale_of(s: Summary) -> float:
    """The run's time scale (1 when its summary says none)."""
    found = s.get("time_scale")
    return float(found) if isinstance(found, int | float) and found > 0 else 1.0


def times(s: Summary) -> str:
    """How the run's times read: ``real``, or ``simulated x20`` in a compressed run."""
    scale = scale_of(s)
    return "real" if scale == 1 else f"simulated x{scale:g}"


def runs_text(runs: list[Listed]) -> str:
    """The runs, finished first (newest first), then those without a summary."""
    if not runs:
        return "no run on this Redis"
    return table([LIST_HEADER, *(_listed_row(listed) for listed in runs)])


def _listed_row(listed: Listed) -> tuple[str, ...]:
    if isinstance(listed, Unfinished):
        state = listed.state
        scale = state.time_scale if state.time_scale > 0 else 1.0
        return (
            listed.run,
            fig.MISSING,
            listed.status,
            str(state.delivered),
            str(state.total),
            fig.MISSING,
            fig.MISSING,
            "real" if scale == 1 else f"simulated x{scale:g}",
            *(fig.MISSING,) * 3,
            fig.MISSING,
        )
    s = listed.summary
    return (
        listed.run,
        when(listed.finished),
        str(s.get("state", fig.MISSING)),
        show_value(Kind.COUNT, s.get("sent")),
        show_value(Kind.COUNT, s.get("total")),
        show_value(Kind.SPAN, s.get("elapsed")),
        show_value(Kind.SPAN, s.get("predicted_completion")),
        times(s),
        show_value(Kind.RATE, s.get("throughput")),
        show_value(Kind.RATIO, s.get("failure_ratio")),
        show_value(Kind.SECONDS, _pct("latency", "p95")(s)),
        str(len(s.get("senders") or [])),
    )


def _took(s: Summary) -> str:
    """``took 41m40s simulated (2m05s real, x20); predicted 40m00s (band 38m10s to
    43m00s, within: yes)``."""
    elapsed = s.get("elapsed")
    if not isinstance(elapsed, int | float):
        return ""
    said = f"took {fig.span(elapsed, scale_of(s), mark=True)}"
    predicted = s.get("predicted_completion")
    if isinstance(predicted, int | float):
        said += f"; predicted {duration(predicted)}"
        low, high = s.get("predicted_completion_low"), s.get("predicted_completion_high")
        if isinstance(low, int | float) and isinstance(high, int | float):
            inside = s.get("completion_in_band")
            said += f" (band {duration(low)} to {duration(high)}"
            said += f", within: {inside})" if inside else ")"
    return said


def show_text(stored: StoredRun) -> str:
    s = stored.summary
    head = f"run {stored.run!r}: created {when(stored.created)}, finished {when(stored.finished)}"
    if took := _took(s):
        head += f"\n  {took}"
    if scale_of(s) != 1:
        head += (
            f"\n  simulated at x{scale_of(s):g}: every time and rate below is in the run's"
            " simulated time"
        )
    if s.get("lateness_distorted"):
        p99 = show_value(Kind.SECONDS, _pct("lateness", "p99")(s))
        head += (
            f"\n  ! lateness distorted this run: 1 % of its attempts ended {p99} (simulated) or"
            " more after they were due; it is slower than its fleet would be"
        )
    rows = [(f.label, show_value(f.kind, f.value(s))) for f in PLAIN_FIGURES]
    sender_rows = [("name", *(label for label, _ in _sender_columns()))]
    for sender in s.get("senders") or []:
        cells = (show_value(kind, value(sender)) for _, (kind, value) in _sender_columns())
        sender_rows.append((str(sender.get("name")), *cells))
    shown = [head, table(rows, "  "), _ladders(s), *_failures(s), "per sender:"]
    shown.append(table(sender_rows, "  "))
    return "\n".join([*shown, *_thresholds(s), *_configuration(stored.config)])


def _ladders(s: Summary) -> str:
    """The percentiles: a row per distribution, a column per rung of the ladder."""
    head = "percentiles (simulated s)" if scale_of(s) != 1 else "percentiles (s)"
    rows = [(head, *(LABELS[q] for q in NAMES))]
    for f in FIGURES:
        if f.kind is Kind.PERCENTILES:
            values = (_pct(f.json, q)(s) for q in NAMES)
            cells = (fig.MISSING if v is None else f"{float(v):.4f}" for v in values)
            rows.append((f.label.text, *cells))
    return table(rows, "  ")


def failures_of(s: Summary) -> dict[tuple[str, str], int] | None:
    """The summary's failures table by (kind, reason); None when it has none (unknown, or
    kept by an older version)."""
    kept = s.get("failures")
    if not isinstance(kept, list):
        return None
    found: dict[tuple[str, str], int] = {}
    for item in kept:
        if isinstance(item, dict) and isinstance(item.get("count"), int):
            key = (str(item.get("kind")), str(item.get("reason")))
            found[key] = found.get(key, 0) + item["count"]
    return found


def _kind_order(key: tuple[str, str]) -> tuple[int, str]:
    kind, reason = key
    return (KINDS.index(kind) if kind in KINDS else len(KINDS), reason)


def _failures(s: Summary) -> list[str]:
    """The failures table, as the summary kept it (none when it kept none)."""
    found = failures_of(s)
    if found is None:
        return []
    if not found:
        return ["failures (dead stream, by reason): none"]
    kind = max(len(k) for k, _ in found)
    count = max(len(str(n)) for n in found.values())
    lines = [f"  {k:<{kind}}  {n:>{count}}  {reason}" for (k, reason), n in found.items()]
    return ["failures (dead stream, by reason):", *lines]


def flat(config: object, prefix: str = "") -> dict[str, str]:
    """A configuration as ``key: value`` lines: ``senders[1].failure_rate``, ``0.3``."""
    if isinstance(config, dict):
        found: dict[str, str] = {}
        for key, value in config.items():
            found |= flat(value, f"{prefix}.{key}" if prefix else str(key))
        return found
    if isinstance(config, list):
        found = {}
        for i, value in enumerate(config):
            found |= flat(value, f"{prefix}[{i}]")
        return found if found or not prefix else {prefix: "[]"}
    return {prefix: json.dumps(config)}


def _configuration(config: dict[str, Any] | None) -> list[str]:
    if config is None:
        return []
    rows = list(flat(config).items())
    return ["configuration:", table(rows, "  ")] if rows else []


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
        status = fig.status_word(passed if isinstance(passed, bool) else None)
        rows.append((status, f"{figure} {condition}", shown))
    return [f"thresholds: {good} of {len(rows)} passed", table(rows, "  ")]


def _sender_columns() -> list[tuple[str, tuple[Kind, Callable[[Summary], Value]]]]:
    """A column per sender figure of the catalogue (per percentile)."""
    found = []
    for f in SENDER_FIGURES:
        header = f.header.replace("\n", " ")
        if f.kind is Kind.PERCENTILES:
            found += [(f"{header} {q}", (Kind.SECONDS, _pct(f.json, q))) for q in SHORT]
        else:
            found.append((header, (f.kind, _get(f.json))))
    return found


def compare_text(a: StoredRun, b: StoredRun) -> str:
    """The two runs side by side, B's difference from A, then the failures by reason, per
    sender profile, and the configuration's keys that differ."""
    rows = [("", a.run, b.run, "difference")]
    rows.append(("times", times(a.summary), times(b.summary), ""))
    for f in FIGURES_SHOWN:
        rows.append(_compared(f.label, f.kind, f.value(a.summary), f.value(b.summary)))
    rows += _compared_failures(a.summary, b.summary)
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
    return "\n".join([table(rows), *_config_changes(a, b)])


def _compared_failures(a: Summary, b: Summary) -> list[tuple[str, str, str, str]]:
    """A row per kind and reason of either run's failures table."""
    fa, fb = failures_of(a), failures_of(b)
    if fa is None and fb is None:
        return []
    rows = [("failures (dead stream, by reason)", "", "", "")]
    for key in sorted((fa or {}).keys() | (fb or {}).keys(), key=_kind_order):
        va = None if fa is None else fa.get(key, 0)
        vb = None if fb is None else fb.get(key, 0)
        rows.append(_compared(f"  {key[0]}: {key[1]}", Kind.COUNT, va, vb))
    if len(rows) == 1:
        rows[0] = ("failures (dead stream, by reason)", "none", "none", "")
    return rows


def _config_changes(a: StoredRun, b: StoredRun) -> list[str]:
    """The configuration's keys whose values differ between the runs (``-``: not set)."""
    if a.config is None or b.config is None:
        which = " and ".join(r.run for r in (a, b) if r.config is None)
        return [f"configuration: not kept for {which} (kept by an older version)"]
    fa, fb = flat(a.config), flat(b.config)
    changed = [key for key in _union(fa, fb) if fa.get(key) != fb.get(key)]
    if not changed:
        return ["configuration: the same"]
    rows = [("configuration (keys that differ)", a.run, b.run)]
    rows += [(f"  {key}", fa.get(key, fig.MISSING), fb.get(key, fig.MISSING)) for key in changed]
    return [table(rows)]


def _union(a: dict[str, str], b: dict[str, str]) -> list[str]:
    """The keys of both, in A's order, then B's own."""
    return [*a, *(key for key in b if key not in a)]


def _compared(label: str, kind: Kind, a: Value, b: Value) -> tuple[str, str, str, str]:
    return label, show_value(kind, a), show_value(kind, b), difference(kind, a, b)


def as_json(listed: Listed) -> dict[str, Any]:
    """One run of ``sms-sim runs --json``: its state, its times, its summary and the
    configuration it ran (null when not kept); a run without a summary: its state
    (``running``, ``interrupted`` or ``complete``), how far it got, and null for the rest."""
    if isinstance(listed, Unfinished):
        state = listed.state
        return {
            "run": listed.run,
            "state": listed.status,
            "created": state.created,
            "finished": None,
            "last_seen": listed.last_seen or None,
            "sent": state.delivered,
            "settled": state.finished,
            "total": state.total,
            "time_scale": state.time_scale,
            "summary": None,
            "config": None,
        }
    return {
        "run": listed.run,
        "state": listed.summary.get("state"),
        "created": listed.created,
        "finished": listed.finished,
        "summary": listed.summary,
        "config": listed.config,
    }
