"""Thresholds: the goals a drill states, judged on a run's final report (k6's thresholds).

A threshold is a figure and a condition, ``delivered_95: "<= 10m"``:

- a figure of the catalogue by its JSON name (``elapsed``, ``abandoned``,
  ``throughput``, ``failure_ratio``, ...), a percentile of one as ``NAME.pNN``
  (``delivery_time.p95``, ``latency.p99.9``, ``attempt_time.max``: the ladder of
  ``monitor/tally/quantiles.py``), or one of these: ``delivered_NN`` (simulated time
  from the run's start until NN % of the run's messages were delivered: "95 % of
  recipients within 10 minutes"), ``completion`` (the run's length, once complete) and
  ``NAME_ratio`` for the settled counts (``abandoned``, ``undeliverable``,
  ``dead_letters``, ``duplicates_suppressed``: their share of the run's messages);
- a condition ``OP NUMBER[UNIT]``: OP one of ``<= < >= > == !=``; a time takes ``ms``,
  ``s``, ``m`` or ``h`` (seconds by default), a ratio ``%`` (else a fraction), counts and
  rates a plain number.

Times are simulated, as every figure the monitor shows. A figure the run cannot give
(nothing delivered, 95 % never reached, a run not complete) fails its threshold.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from common.errors import ConfigError
from monitor.figures.catalogue import FIGURES, Figure, Kind
from monitor.figures.snapshot import Snapshot
from monitor.tally.quantiles import LABELS

OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
TIME_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
TIMES = frozenset({Kind.SPAN, Kind.FINISH, Kind.SECONDS, Kind.PERCENTILES})
NUMBERS = frozenset({Kind.COUNT, Kind.RATE, Kind.RATIO, *TIMES})
SETTLED = ("abandoned", "undeliverable", "dead_letters", "duplicates_suppressed")
CONDITION = re.compile(
    r"^\s*(<=|>=|==|!=|<|>)\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)\s*([a-z%]*)\s*$"
)
REACH = re.compile(r"^delivered_(\d{1,3}(?:\.\d+)?)$")
PERCENTILE = re.compile(r"^(\w+)\.(min|max|p\d{1,2}(?:\.\d+)?)$")

# The share of the run's messages delivered by a given time: the simulated seconds from
# the run's start until that share was reached, None when it never was.
Reach = Callable[[float], float | None]


@dataclass(frozen=True)
class Threshold:
    figure: str  # as written
    op: str
    limit: float  # in the figure's unit: seconds, a fraction, a count, msg/s
    condition: str  # as written, e.g. "<= 10m"
    kind: Kind

    def __str__(self) -> str:
        return f"{self.figure} {self.condition}"


@dataclass(frozen=True)
class Verdict:
    threshold: Threshold
    value: float | None  # the figure, in its unit; None: the run could not give it
    passed: bool | None  # None: not judged (the run did not complete)


class Final(Protocol):
    """What a threshold reads of the final report (``monitor.figures.report.Report``;
    every other figure by its catalogue key)."""

    @property
    def elapsed(self) -> float: ...

    @property
    def total(self) -> int: ...

    @property
    def complete(self) -> bool: ...


def passed(verdicts: tuple[Verdict, ...]) -> bool | None:
    """True when every threshold passed, False when one failed, None when there are none
    or they were not judged."""
    if not verdicts or any(v.passed is None for v in verdicts):
        return None
    return all(v.passed for v in verdicts)


def parse(spec: Mapping[str, object]) -> tuple[Threshold, ...]:
    """The thresholds of a ``thresholds:`` mapping (or ``--threshold`` flags); ConfigError
    with one line naming the first figure or condition that is wrong."""
    return tuple(_parse_one(str(figure), condition) for figure, condition in spec.items())


def parse_flag(text: str) -> tuple[str, str]:
    """``"delivered_95 <= 10m"`` (a ``--threshold`` flag) as (figure, condition)."""
    found = re.match(r"^\s*([\w.]+)\s*((?:<=|>=|==|!=|<|>).*)$", text)
    if not found:
        raise ConfigError(f"--threshold {text!r}: not FIGURE OP VALUE (e.g. 'delivered_95 <= 10m')")
    return found.group(1), found.group(2).strip()


def _parse_one(figure: str, condition: object) -> Threshold:
    kind = kind_of(figure)
    if not isinstance(condition, str):
        raise ConfigError(f"thresholds.{figure}: {condition!r} is not a condition such as '<= 10m'")
    found = CONDITION.match(condition)
    if not found:
        raise ConfigError(
            f"thresholds.{figure}: {condition!r} is not a condition: OP NUMBER[UNIT], OP one "
            "of <= < >= > == != (e.g. '<= 10m', '< 3%', '== 0')"
        )
    op, number, unit = found.groups()
    limit = float(number) * _unit(figure, kind, unit)
    if not math.isfinite(limit):
        raise ConfigError(f"thresholds.{figure}: {condition!r}: the number is not finite")
    return Threshold(figure, op, limit, condition.strip(), kind)


def _unit(figure: str, kind: Kind, unit: str) -> float:
    if kind in TIMES:
        if unit in ("", *TIME_UNITS):
            return TIME_UNITS.get(unit, 1.0)
        raise ConfigError(f"thresholds.{figure}: a time takes ms, s, m or h, not {unit!r}")
    if kind is Kind.RATIO:
        if unit in ("", "%"):
            return 0.01 if unit else 1.0
        raise ConfigError(f"thresholds.{figure}: a ratio takes % or a fraction, not {unit!r}")
    if unit:
        raise ConfigError(f"thresholds.{figure}: a {kind.value} takes no unit ({unit!r})")
    return 1.0


def kind_of(figure: str) -> Kind:
    """How ``figure`` is measured; ConfigError naming the figures when it is none."""
    if figure == "completion" or REACH.match(figure):
        if (reach := REACH.match(figure)) and not 0 < float(reach.group(1)) <= 100:
            raise ConfigError(f"thresholds.{figure}: a share of the run's messages is 0..100")
        return Kind.SPAN
    if figure.endswith("_ratio") and figure.removesuffix("_ratio") in SETTLED:
        return Kind.RATIO
    if found := PERCENTILE.match(figure):
        base = _by_json().get(found.group(1))
        if base is not None and base.kind is Kind.PERCENTILES:
            if _rank(found.group(2)) not in LABELS:
                ranks = ", ".join(LABELS.values())
                raise ConfigError(f"thresholds.{figure}: no such percentile; there are {ranks}")
            return Kind.PERCENTILES
    base = _by_json().get(figure)
    if base is not None and base.kind in NUMBERS and base.kind is not Kind.PERCENTILES:
        return base.kind
    raise ConfigError(f"thresholds: unknown figure {figure!r}{_suggest(figure)}")


def _by_json() -> dict[str, Figure]:
    return {f.json: f for f in FIGURES}


def names() -> list[str]:
    """Every figure a threshold may name (percentiles and shares as examples)."""
    plain = [f.json for f in FIGURES if f.kind in NUMBERS and f.kind is not Kind.PERCENTILES]
    ladders = [f"{f.json}.p95" for f in FIGURES if f.kind is Kind.PERCENTILES]
    return ["delivered_95", "completion", *plain, *ladders, *(f"{s}_ratio" for s in SETTLED)]


def _suggest(figure: str) -> str:
    close = difflib.get_close_matches(figure, names(), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{hint}; figures: {', '.join(names())}"


def judge(thresholds: tuple[Threshold, ...], rep: Final, reach: Reach) -> tuple[Verdict, ...]:
    """Each threshold against the final report ``rep``: judged only when the run is
    complete (a run stopped before has not shown what it would do)."""
    verdicts = []
    for threshold in thresholds:
        value = _value(threshold.figure, rep, reach)
        ok = value is not None and OPS[threshold.op](value, threshold.limit)
        verdicts.append(Verdict(threshold, value, ok if rep.complete else None))
    return tuple(verdicts)


def _value(figure: str, rep: Final, reach: Reach) -> float | None:
    if figure == "completion":
        return rep.elapsed if rep.complete else None
    if found := REACH.match(figure):
        return reach(float(found.group(1)) / 100)
    if figure.endswith("_ratio") and figure.removesuffix("_ratio") in SETTLED:
        count = _number(rep, figure.removesuffix("_ratio"))
        return count / rep.total if count is not None and rep.total else None
    if found := PERCENTILE.match(figure):
        ladder = _number_of(rep, found.group(1))
        value = getattr(ladder, _rank(found.group(2)), None)
        return float(value) if isinstance(value, int | float) else None
    return _number(rep, figure)


def _rank(written: str) -> str:
    """The Percentiles field of a percentile as written: ``p95`` -> ``p95``, ``p99.9`` ->
    ``p99_9``, ``min`` and ``max`` as they are."""
    return written.replace(".", "_")


def _number_of(rep: Final, json_name: str) -> object | None:
    figure = next(f for f in FIGURES if f.json == json_name)
    value: object = getattr(rep, figure.key)
    return value


def _number(rep: Final, json_name: str) -> float | None:
    value = _number_of(rep, json_name)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def reach(snap: Snapshot) -> Reach:
    """The simulated seconds from the run's start until a share of its messages was
    delivered, by the results' own timestamps (None: never, or not every delivery is in
    the series)."""
    series, total, clock = snap.stats.series, snap.state.total, snap.clock

    def time_to(share: float) -> float | None:
        need = share * total
        counted = series.total >= snap.stats.sent
        if not snap.created or not total or not counted or series.total < need:
            return None
        return clock.span(series.time_to(need / series.total, snap.created))

    return time_to
