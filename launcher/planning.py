"""``sms-sim plan``: the smallest value of one field of a fleet that meets a deadline.

The field (``senders[N].concurrency``, ``senders[N].copies`` or ``account.max_rate``) is
varied over whole numbers; each value's fleet is forecast on the virtual clock
(``common/virtual``), every value with the same seed (so two values differ by the fleet,
not by luck); a value meets the deadline when the goal's time (every message settled, or
P % of the messages delivered) is within it in ``confidence`` % of the virtual runs. The
search doubles the field until the deadline is met, then halves the gap to the smallest
value that meets it: it assumes more of the field never makes the fleet slower.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from common.errors import UsageProblem
from common.format import duration
from common.model import MAX_CONCURRENCY, MAX_RATE, SimConfig
from common.virtual.forecast import SHARES, Band, Effort, Forecast, forecast, share_name
from launcher.forecasts import banded

MAX_COPIES = 1000  # senders of one profile a plan may try
FIELDS = "senders[N].concurrency, senders[N].copies (N from 0) or account.max_rate"
SAME = 0.005  # relative: a figure this close at both ends of the range did not change


def parse_duration(text: str) -> float:
    """``10m``, ``1h30m``, ``90s``, ``45`` (seconds) -> seconds."""
    parts = re.fullmatch(
        r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*", text
    )
    if not text.strip() or parts is None or not any(parts.groups()):
        raise UsageProblem(f"deadline: {text!r} is not a duration such as 10m, 1h30m or 90s")
    hours, minutes, seconds = (float(g or 0) for g in parts.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise UsageProblem(f"deadline: {text!r} must be more than 0 s")
    return total


def parse_share(text: str | None) -> float | None:
    """``95%`` -> 0.95; None (every message settled) for None or ``all``."""
    if text is None or text.strip().lower() == "all":
        return None
    try:
        share = float(text.strip().rstrip("%")) / 100
    except ValueError:
        raise UsageProblem(f"delivered: {text!r} is not a percentage such as 95%") from None
    if not 0 < share <= 1:
        raise UsageProblem(f"delivered: {text!r} must be above 0 % and at most 100 %")
    return share


@dataclass(frozen=True)
class Knob:
    """The field a plan varies: how to read it from a config and set it in one."""

    path: str
    lowest: int
    highest: int
    read: Callable[[SimConfig], int]
    write: Callable[[SimConfig, int], SimConfig]


def knob(path: str, config: SimConfig) -> Knob:
    """The field ``path`` of ``config``; UsageProblem for one that is not a field a plan
    can vary, or not in this config."""
    senders = config.senders or []
    found = re.fullmatch(r"senders\[(\d+)\]\.(concurrency|copies)", path.strip())
    if found:
        index, name = int(found[1]), found[2]
        if index >= len(senders):
            raise UsageProblem(
                f"vary: {path}: the config has {len(senders)} senders (0 to {len(senders) - 1})"
            )
        if name == "concurrency":
            return Knob(path, 1, MAX_CONCURRENCY, _concurrency(index), _set_concurrency(index))
        return Knob(path, 1, MAX_COPIES, _copies(index), _set_copies(index))
    if path.strip() == "account.max_rate":
        if config.account is None:
            raise UsageProblem("vary: account.max_rate: the config has no account cap to vary")
        return Knob(path, 1, int(MAX_RATE), _account_rate, _set_account_rate)
    raise UsageProblem(f"vary: {path!r} is not a field a plan varies: {FIELDS}")


def _rebuilt(config: SimConfig, **changes: Any) -> SimConfig:
    return SimConfig.model_validate({**config.model_dump(by_alias=True), **changes})


def _concurrency(index: int) -> Callable[[SimConfig], int]:
    return lambda config: (config.senders or [])[index].concurrency


def _set_concurrency(index: int) -> Callable[[SimConfig, int], SimConfig]:
    def write(config: SimConfig, value: int) -> SimConfig:
        senders = [s.model_dump(by_alias=True) for s in config.senders or []]
        senders[index]["concurrency"] = value
        return _rebuilt(config, senders=senders)

    return write


def _copies(index: int) -> Callable[[SimConfig], int]:
    def read(config: SimConfig) -> int:
        senders = config.senders or []
        return sum(1 for s in senders if s == senders[index])

    return read


def _set_copies(index: int) -> Callable[[SimConfig, int], SimConfig]:
    """``value`` senders of the profile ``senders[index]``, where its copies were."""

    def write(config: SimConfig, value: int) -> SimConfig:
        senders = config.senders or []
        profile = senders[index]
        first = senders.index(profile)
        others = [s for s in senders if s != profile]
        fleet = others[:first] + [profile] * value + others[first:]
        return _rebuilt(config, senders=[s.model_dump(by_alias=True) for s in fleet])

    return write


def _account_rate(config: SimConfig) -> int:
    assert config.account is not None
    return max(1, round(config.account.max_rate))


def _set_account_rate(config: SimConfig, value: int) -> SimConfig:
    assert config.account is not None
    return _rebuilt(config, account={**config.account.model_dump(), "max_rate": value})


@dataclass(frozen=True)
class Goal:
    """Met when the time to ``share`` delivered (None: to every message settled) is at
    most ``deadline`` in ``confidence`` % of the virtual runs."""

    deadline: float
    share: float | None = None
    confidence: float = 95.0

    @property
    def what(self) -> str:
        return (
            "every message settled" if self.share is None else f"{share_name(self.share)} delivered"
        )

    def figure(self, found: Forecast) -> Band | None:
        if self.share is None:
            return found.completion
        return found.delivered[share_name(self.share)]

    def met(self, found: Forecast) -> bool:
        band = self.figure(found)
        return band is not None and band.high <= self.deadline


def effort_for(goal: Goal, replications: int, seed: int | None) -> Effort:
    """``replications`` virtual runs a value, the same seed each (0 unless given), banded
    at the goal's confidence, timing the goal's share among the others."""
    shares = SHARES if goal.share is None else tuple(sorted({*SHARES, goal.share}))
    band = (100 - goal.confidence, goal.confidence)
    return Effort(replications, 0 if seed is None else seed, band, shares=shares)


@dataclass
class Trials:
    """Each value tried, with its forecast: one forecast a value, the same seed each."""

    config: SimConfig
    knob: Knob
    goal: Goal
    effort: Effort
    tried: dict[int, Forecast] = field(default_factory=dict)
    progress: Callable[[int, Forecast], None] | None = None

    def at(self, value: int) -> Forecast:
        if value not in self.tried:
            self.tried[value] = forecast(self.knob.write(self.config, value), self.effort)
            if self.progress:
                self.progress(value, self.tried[value])
        return self.tried[value]

    def meets(self, value: int) -> bool:
        return self.goal.met(self.at(value))


@dataclass(frozen=True)
class Answer:
    value: int
    forecast: Forecast
    below: tuple[int, Forecast] | None  # the next value down, which misses (None: lowest)


def smallest(trials: Trials) -> Answer:
    """The smallest value of the knob that meets the goal; UsageProblem when none in its
    range does, or when the knob does not change the goal's time at all."""
    knob = trials.knob
    start = min(max(knob.read(trials.config), knob.lowest), knob.highest)
    miss, meet = knob.lowest - 1, start
    if not trials.meets(start):
        miss, meet = _grow(trials, start)
    while meet - miss > 1:
        middle = (miss + meet) // 2
        if trials.meets(middle):
            meet = middle
        else:
            miss = middle
    below = None if miss < knob.lowest else (miss, trials.at(miss))
    return Answer(meet, trials.at(meet), below)


def _grow(trials: Trials, start: int) -> tuple[int, int]:
    """Double the knob from ``start`` (which misses) until the goal is met: the last
    value that missed and the first that met."""
    knob, miss = trials.knob, start
    while miss < knob.highest:
        value = min(max(miss * 2, miss + 1), knob.highest)
        if trials.meets(value):
            return miss, value
        _unchanged(trials, start, value)
        miss = value
    figure = trials.goal.figure(trials.at(knob.highest))
    raise UsageProblem(
        f"no value of {knob.path} up to {knob.highest} meets the deadline: at {knob.highest}, "
        f"{trials.goal.what} takes {_band(figure)}"
    )


def _unchanged(trials: Trials, low: int, high: int) -> None:
    """UsageProblem when the goal's time is the same at ``low`` and ``high``: the knob
    is not what holds the fleet back."""
    first = trials.goal.figure(trials.at(low))
    second = trials.goal.figure(trials.at(high))
    if first is None or second is None or high < 4 * max(low, 1):
        return
    if abs(first.mean - second.mean) <= SAME * first.mean:
        raise UsageProblem(
            f"{trials.knob.path} does not change when {trials.goal.what} (from {low} to "
            f"{high}: {_band(first)} and {_band(second)}): something else holds the fleet back"
        )


def _band(band: Band | None) -> str:
    if band is None:
        return "for ever (some runs never get there)"
    return banded(band)


def tried_line(goal: Goal, value: int, found: Forecast) -> str:
    """``12: 9m40s (9m20s - 10m02s): meets`` (or ``misses``)."""
    return f"{value}: {_band(goal.figure(found))}: {'meets' if goal.met(found) else 'misses'}"


def answer_text(trials: Trials, answer: Answer) -> str:
    goal = trials.goal
    head = (
        f"plan: the smallest {trials.knob.path} for {goal.what} within "
        f"{duration(goal.deadline)} in {goal.confidence:g} % of {answer.forecast.replications} "
        "virtual runs"
    )
    lines = [head, f"  {answer.value}: {_band(goal.figure(answer.forecast))}: meets the deadline"]
    if answer.below is not None:
        value, found = answer.below
        lines.append(f"  {value}: {_band(goal.figure(found))}: misses")
    tried = ", ".join(str(v) for v in sorted(trials.tried))
    lines.append(f"  (tried {tried}; times are the mean and the band of the virtual runs)")
    return "\n".join(lines)
