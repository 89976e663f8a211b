"""How figures read: rates, short durations, finish times, percentages; and each kind of
the catalogue's figures in plain lines, summaries, JSON and CSV cells.

In a compressed run (a time scale other than 1) a rate or a stretch of the run's time
reads ``... simulated`` with its real counterpart beside it; with scale 1 it reads as
it always has.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

from common.format import duration
from monitor.figures.catalogue import Figure, Kind
from monitor.figures.report import Report
from monitor.figures.thresholds import Verdict
from monitor.tally.quantiles import NAMES, SHORT, Percentiles

MISSING = "-"
DAY = 86_400.0  # real seconds: a finish time further off shows no time of day


def rate(value: float | None, scale: float = 1.0) -> str:
    """``48.2 msg/s``; ``unbounded`` for an infinite (zero-delay) prediction; ``-`` when
    there is none. Compressed: ``48.2 msg/s simulated (964.0/s real)``."""
    if value is None:
        return MISSING
    if math.isinf(value):
        return "unbounded"
    if scale == 1:
        return f"{value:.1f} msg/s"
    return f"{value:.1f} msg/s simulated ({value * scale:.1f}/s real)"


def span(value: float, scale: float = 1.0, mark: bool = False) -> str:
    """A stretch of the run's time: ``2m03s``; compressed ``2h03m00s simulated (6m09s
    real)``, and the scale too with ``mark`` (``(6m09s real, x20)``)."""
    if scale == 1:
        return duration(value)
    beside = f"{duration(value / scale)} real" + (f", x{scale:g}" if mark else "")
    return f"{duration(value)} simulated ({beside})"


def secs(value: float) -> str:
    """A short time: ``52.1 ms`` below a second, ``1.234 s`` above."""
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.3f} s"


def left(value: float | None, scale: float = 1.0) -> str:
    """Time left (``2m03s``), ``-`` when unknown."""
    return MISSING if value is None else span(value, scale)


def finish(now: float, value: float | None, scale: float = 1.0) -> str:
    """``in 2m03s (at 14:02:11)``, local time; ``-`` when unknown. Compressed: ``in
    2h03m00s simulated (6m09s real, at 14:02:11)``."""
    if value is None or math.isinf(value):
        return MISSING if value is None else "never"
    at = _clock(now + value / scale) if value / scale < DAY else "more than a day away"
    if scale == 1:
        return f"in {duration(value)} ({at})"
    return f"in {duration(value)} simulated ({duration(value / scale)} real, {at})"


def _clock(epoch: float) -> str:
    """``at 14:02:11``, local time; ``at a date past 9999`` beyond what a clock shows."""
    try:
        return "at " + time.strftime("%H:%M:%S", time.localtime(epoch))
    except (OverflowError, OSError, ValueError):
        return "at a date past 9999"


def pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else MISSING


def ratio(value: float | None) -> str:
    """A ratio (0..1) as a percentage, ``-`` when unknown."""
    return MISSING if value is None else f"{100.0 * value:.1f}%"


def brief(value: float) -> str:
    """A time in at most 6 characters, for narrow columns: ``52.1ms``, ``100ms``, ``1.23s``."""
    if value < 0.9995:
        return f"{value * 1000:.3g}ms"
    return f"{value:.3g}s" if value < 999.5 else duration(value)


# --- a figure of the catalogue, by its kind -------------------------------------------

Value = float | int | str | Percentiles | None


def plain(kind: Kind, value: Value) -> str:
    """As a ``key=value`` token: no spaces, ``-`` when unknown."""
    if value is None or isinstance(value, (str, Percentiles)):
        return MISSING if value is None else str(value)
    if kind is Kind.RATE:
        return "unbounded" if math.isinf(value) else f"{value:.1f}/s"
    if kind in (Kind.SPAN, Kind.FINISH):
        return f"{value:.1f}s"
    if kind in (Kind.SECONDS, Kind.PERCENTILES):  # a percentile: one of its values
        return f"{value:.4f}s"
    return ratio(value) if kind is Kind.RATIO else str(value)


def text(kind: Kind, value: Value, scale: float = 1.0, now: float = 0.0) -> str:
    """As a summary or the dashboard writes it: ``48.2 msg/s``, ``2m03s``, ``52.1 ms``,
    ``4.5%``; ``-`` when unknown. ``now``: the moment a FINISH counts from."""
    if value is None:
        return MISSING
    if isinstance(value, Percentiles):
        return " / ".join(secs(v) for v in value.values(SHORT))
    if isinstance(value, str):
        return value
    shown: dict[Kind, Callable[[float], str]] = {
        Kind.RATE: lambda v: rate(v, scale),
        Kind.SPAN: lambda v: span(v, scale),
        Kind.FINISH: lambda v: finish(now, v, scale),
        Kind.SECONDS: secs,
        Kind.RATIO: ratio,
    }
    write = shown.get(kind)
    return str(value) if write is None else write(value)


def of_report(figure: Figure, rep: Report) -> str:
    """``figure`` of the report ``rep`` as ``text`` writes it; ``12 / 1000`` for a figure
    shown out of another."""
    value = getattr(rep, figure.key)
    if figure.out_of:
        return f"{value} / {getattr(rep, figure.out_of)}"
    return text(figure.kind, value, rep.scale, rep.now)


def exact(value: float | Percentiles | None, names: Sequence[str] = SHORT) -> str:
    """A short time (or percentiles: ``names`` of them) to 0.1 ms, as the plain final text
    writes them: ``0.0521 s``, ``0.0483 / 0.0781 / 0.0954 s``; ``-`` when unknown."""
    if value is None:
        return MISSING
    if isinstance(value, Percentiles):
        return " / ".join(f"{v:.4f}" for v in value.values(names)) + " s"
    return f"{value:.4f} s"


def finite(value: float | None, digits: int) -> float | None:
    """``value`` rounded; None when unknown, unbounded or not a number (JSON has none)."""
    return None if value is None or not math.isfinite(value) else round(value, digits)


def json_value(kind: Kind, value: Value) -> object:
    """As the JSON summary holds it: seconds and msg/s rounded, null when unknown or
    unbounded, percentiles as the whole ladder ``{"min": ..., "p50": ..., "p66": ...,
    ..., "p99_9": ..., "max": ...}``."""
    if isinstance(value, Percentiles):
        return {name: round(v, 6) for name, v in value.items()}
    if value is None or isinstance(value, str) or kind in (Kind.COUNT, Kind.STATE, Kind.TEXT):
        return value
    digits = 3 if kind in (Kind.RATE, Kind.SPAN, Kind.FINISH) else 6
    return finite(float(value), digits)


def cell(value: float | int | str | None) -> str:
    """A CSV cell: empty when unknown, ``inf`` when unbounded, floats to 6 decimals."""
    if value is None:
        return ""
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.6f}".rstrip("0").rstrip(".")
    return str(value)


def expand(
    kind: Kind, name: str, value: Value, names: Sequence[str] = NAMES
) -> list[tuple[str, float | int | str | None]]:
    """A figure as flat (name, value) pairs: percentiles as ``name_min``, ``name_p50`` ...
    (``names`` of the ladder: all of it by default; None each when unknown), anything else
    as itself."""
    if kind is not Kind.PERCENTILES:
        return [(name, value)]  # type: ignore[list-item]
    values = value.values(names) if isinstance(value, Percentiles) else (None,) * len(names)
    return [(f"{name}_{q}", v) for q, v in zip(names, values, strict=True)]


def brief_of(kind: Kind, value: float | str) -> str:
    """A figure in a narrow column: ``48.2/s``, ``52.1ms``, ``4.5%``."""
    if isinstance(value, str):
        return value
    if kind is Kind.RATE:
        return "unbounded" if math.isinf(value) else f"{value:.1f}/s"
    if kind in (Kind.SECONDS, Kind.PERCENTILES):  # a percentile: one of its values
        return brief(value)
    return ratio(value) if kind is Kind.RATIO else str(value)


def distortion(rep: Report) -> str | None:
    """What a summary says of a run its lateness distorted (``Report.distorted``); None
    when it did not."""
    if not rep.distorted or rep.lateness is None:
        return None
    p99, scale = rep.lateness.p99, rep.scale
    late = _time(p99) if scale == 1 else f"{_time(p99 / scale)} ({_time(p99)} simulated)"
    advice = (
        f"lower time_scale (x{scale:g}) or spread the senders over more processes"
        if rep.compressed
        else "spread the senders over more processes (--workers) or use a faster machine"
    )
    return (
        f"lateness distorted this run: 1 % of its attempts ended {late} or more after they"
        " were due: the simulator fell behind its schedules, so the run is slower than its"
        f" fleet would be and the times it recorded run late; {advice}"
    )


def _time(value: float) -> str:
    """``52.1 ms``, ``1.234 s``, ``2m56s``."""
    return secs(value) if value < 60 else duration(value)


# --- thresholds -------------------------------------------------------------------------

PASSED, FAILED, UNJUDGED = "passed", "FAILED", "not judged"


def verdict_value(verdict: Verdict) -> str:
    """The figure a threshold was judged on, in its unit: ``9m12s``, ``52.1 ms``,
    ``2.1%``, ``3``; ``never`` when the run could not give it (95 % never reached)."""
    value, kind = verdict.value, verdict.threshold.kind
    if value is None:
        return "never" if verdict.threshold.figure.startswith("delivered_") else MISSING
    if kind in (Kind.SPAN, Kind.FINISH):
        return duration(value)
    if kind in (Kind.SECONDS, Kind.PERCENTILES):
        return secs(value)
    if kind is Kind.RATE:
        return rate(value)
    if kind is Kind.RATIO:
        return f"{100.0 * value:.2f}%"
    return f"{value:g}"


def verdict_status(verdict: Verdict) -> str:
    return status_word(verdict.passed)


def status_word(passed: bool | None) -> str:
    """``passed``, ``FAILED``, or ``not judged`` (None: the run did not complete)."""
    return UNJUDGED if passed is None else PASSED if passed else FAILED


def verdict_text(verdict: Verdict) -> str:
    """``delivered_95 <= 10m (was 12m03s)``."""
    return f"{verdict.threshold} (was {verdict_value(verdict)})"


def thresholds_lines(rep: Report) -> list[str]:
    """The final summary's thresholds: a heading saying how many passed, then one line
    each; none when the run was given none."""
    verdicts = rep.thresholds
    if not verdicts:
        return []
    if any(v.passed is None for v in verdicts):
        head = f"thresholds: not judged (the run did not complete): {len(verdicts)}"
    else:
        good = sum(1 for v in verdicts if v.passed)
        head = f"thresholds: {good} of {len(verdicts)} passed"
    rows = [f"  {verdict_status(v):<10} {v.threshold}: {verdict_value(v)}" for v in verdicts]
    return [head, *rows]
