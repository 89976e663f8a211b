"""``sms-sim predict``: a fleet's forecast from its config, as text or JSON.

The forecast is many runs of the fleet on the virtual clock (``common/virtual``): the same
gateways as the senders, no Redis, no waiting. Times are simulated seconds.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common.errors import UsageProblem
from common.format import duration
from common.model import SimConfig
from common.settings import read_config_file
from common.virtual.forecast import Band, Forecast


def load_config(path: Path | None, count: int | None = None) -> SimConfig:
    """The config at ``path`` (None: the built-in example fleet), ``count`` messages when
    given; UsageProblem for one with no sender."""
    config = read_config_file(path) if path is not None else SimConfig.example()
    if not config.senders:
        raise UsageProblem(f"{path}: senders: none listed; a forecast needs at least one")
    if count is not None:
        data = config.model_dump(by_alias=True)
        config = SimConfig.model_validate({**data, "num_messages": count})
    return config


SECONDS_A_MESSAGE = 4e-6  # a virtual run's cost on the reference machine (2 cores, 2026)
LONG = 60.0  # seconds: a virtual run longer than this is said before it starts


def say_if_long(config: SimConfig) -> None:
    """A line on stderr when one virtual run of ``config`` takes minutes or more."""
    took = config.num_messages * SECONDS_A_MESSAGE
    if took >= LONG:
        print(
            f"  {config.num_messages:,} messages: about {duration(took)} a virtual run "
            "(4 s a million messages on 2 cores); --count for a smaller run",
            file=sys.stderr,
            flush=True,
        )


def progress_after(quiet: float) -> Callable[[int], None]:
    """A progress callback: after ``quiet`` seconds, a line on stderr per virtual run."""
    started = time.monotonic()

    def say(done: int) -> None:
        if time.monotonic() - started >= quiet:
            print(f"  virtual runs done: {done}", file=sys.stderr, flush=True)

    return say


def parse_band(text: str) -> tuple[float, float]:
    """``5-95`` -> (5.0, 95.0): the low and high percentiles of a band."""
    try:
        low, high = (float(part) for part in text.split("-"))
    except ValueError:
        raise UsageProblem(f"band: {text!r} is not LOW-HIGH, such as 5-95") from None
    if not 0 <= low < high <= 100:
        raise UsageProblem(f"band: {text!r} needs 0 <= LOW < HIGH <= 100")
    return low, high


def banded(band: Band | None) -> str:
    """``48m13s (45m36s - 51m15s)``; ``never`` when some replication never got there."""
    if band is None:
        return "never"
    return f"{duration(band.mean)} ({duration(band.low)} - {duration(band.high)})"


def forecast_text(config: SimConfig, found: Forecast, source: str) -> str:
    low, high = found.band
    head = (
        f"forecast of {source}: {config.num_messages} messages, "
        f"{len(config.senders or [])} senders, {found.replications} virtual runs "
        f"(mean, and {low:g}-{high:g} % band)"
    )
    rows = [("completion (every message settled)", banded(found.completion))]
    rows += [(f"{share} delivered", banded(b)) for share, b in found.delivered.items()]
    rows += [(f"delivery time {q}", _delivery(b, found)) for q, b in found.delivery.items()]
    counts = (found.sent, found.failed, found.abandoned, found.undeliverable)
    rows.append(
        (
            "sent / failed attempts / abandoned / undeliverable",
            " / ".join(f"{c.mean:.0f}" for c in counts),
        )
    )
    width = max(len(label) for label, _ in rows) + 2
    lines = [head, *(f"  {label:<{width}}{value}" for label, value in rows)]
    if any(b is None for b in found.delivered.values()):
        lines.append(_never(config, found))
    return "\n".join(lines)


def _delivery(band: Band | None, found: Forecast) -> str:
    """A delivery-time band; ``-`` when the runs deliver nothing at all."""
    return "-" if found.sent.high == 0 else banded(band)


def _never(config: SimConfig, found: Forecast) -> str:
    lost = found.undeliverable.mean + found.abandoned.mean
    share = 100 * lost / config.num_messages if config.num_messages else 0.0
    return (
        f"  (never: {share:.1f} % of the messages are not delivered at all, undeliverable "
        "numbers and messages abandoned after max_attempts)"
    )


def forecast_json(config: SimConfig, found: Forecast, source: str) -> dict[str, Any]:
    data = found.as_dict()
    return {"config": source, "num_messages": config.num_messages, **_finite(data)}


def _finite(value: Any) -> Any:
    """NaN and inf as null (JSON has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
