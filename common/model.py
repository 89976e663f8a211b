"""The simulation model, as the run's YAML file describes it: each gateway's profile and
the run's own parameters. Every number must be finite and within the limits below.

Times in a profile or a run are simulated seconds: a run with ``time_scale`` s plays
them s times faster than real time.
"""

from __future__ import annotations

import itertools
from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

DEFAULT_COUNT = 1000
DEFAULT_REPORT_PERIOD = 2.0
DEFAULT_SHAPE = 10.0  # as in the reference Rust version
DEFAULT_TIMEOUT = 30.0  # simulated seconds an attempt takes to fail during an outage

# Limits: beyond these a value is a typo, or more than this code can serve.
MAX_MESSAGES = 1_000_000_000
MAX_SECONDS = 86_400.0  # any time setting: one day
MAX_CONCURRENCY = 100_000
MAX_ATTEMPTS = 1_000_000
MAX_SHAPE = 1_000_000.0
MAX_TIME_SCALE = 100_000.0
MAX_RATE = 1_000_000.0  # submissions per simulated second
MAX_WINDOWS = 1000  # scheduled outage windows per profile
MAX_PARTITIONS = 64


def _no_bool(value: Any) -> Any:
    """YAML's ``true`` is not the number 1."""
    if isinstance(value, bool):
        raise ValueError("Input should be a number, not true/false")
    return value


Seconds = Annotated[float, BeforeValidator(_no_bool), Field(ge=0, le=MAX_SECONDS)]
Count = Annotated[int, BeforeValidator(_no_bool), Field(ge=0, le=MAX_MESSAGES)]
Probability = Annotated[float, BeforeValidator(_no_bool), Field(ge=0, le=1)]
Fraction = Annotated[float, BeforeValidator(_no_bool), Field(ge=0, lt=1)]
Shape = Annotated[float, BeforeValidator(_no_bool), Field(gt=0, le=MAX_SHAPE)]
Slots = Annotated[int, BeforeValidator(_no_bool), Field(ge=1, le=MAX_CONCURRENCY)]
Attempts = Annotated[int, BeforeValidator(_no_bool), Field(ge=1, le=MAX_ATTEMPTS)]
Period = Annotated[float, BeforeValidator(_no_bool), Field(gt=0, le=MAX_SECONDS)]
Rate = Annotated[float, BeforeValidator(_no_bool), Field(gt=0, le=MAX_RATE)]
Burst = Annotated[int, BeforeValidator(_no_bool), Field(ge=1, le=MAX_CONCURRENCY)]
Scale = Annotated[float, BeforeValidator(_no_bool), Field(gt=0, le=MAX_TIME_SCALE)]
Factor = Annotated[float, BeforeValidator(_no_bool), Field(ge=1, le=1000)]
Partitions = Annotated[int, BeforeValidator(_no_bool), Field(ge=1, le=MAX_PARTITIONS)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=True)


class Window(Strict):
    """A scheduled outage: from ``at`` simulated seconds after the run's start, for ``for``."""

    at: Seconds
    duration: Period = Field(alias="for")

    @property
    def end(self) -> float:
        return self.at + self.duration


class Backoff(Strict):
    """Wait before retrying a failed message: ``initial`` simulated seconds, times ``factor``
    after each further failure, at most ``max``. Meanwhile the message holds no slot."""

    initial: Period
    factor: Factor = 2.0
    max: Period = MAX_SECONDS

    @model_validator(mode="after")
    def _max_at_least_initial(self) -> Self:
        if self.max < self.initial:
            raise ValueError(f"max ({self.max:g}) must be at least initial ({self.initial:g})")
        return self

    def delay(self, failures: int) -> float:
        """The wait after the ``failures``-th failure of a message (1-based)."""
        return min(self.initial * self.factor ** (failures - 1), self.max)


class SenderProfile(Strict):
    """One simulated gateway: the seed's ``{mean_time, failure_rate}`` plus optional extras."""

    mean_time: Seconds = Field(description="mean seconds per send attempt")
    failure_rate: Probability = Field(description="probability an attempt fails")
    shape: Shape | None = Field(default=None, description="gamma shape (default: global)")
    concurrency: Slots = Field(default=1, description="send slots in one sender")
    max_attempts: Attempts | None = Field(default=None, description="give up after N attempts")
    max_rate: Rate | None = Field(default=None, description="submissions per second, at most")
    burst: Burst | None = Field(default=None, description="submissions at once (max_rate)")
    outages: list[Window] = Field(default_factory=list, max_length=MAX_WINDOWS)
    mtbf: Period | None = Field(default=None, description="mean time between random outages")
    mttr: Period | None = Field(default=None, description="mean random outage length")
    timeout: Period = Field(default=DEFAULT_TIMEOUT, description="an attempt in an outage")
    retry_backoff: Backoff | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_failure_rate(self.failure_rate, self.max_attempts)
        if (self.mtbf is None) != (self.mttr is None):
            raise ValueError("mtbf and mttr go together: give both, or neither")
        if self.burst is not None and self.max_rate is None:
            raise ValueError("burst needs max_rate")
        ordered = sorted(self.outages, key=lambda w: w.at)
        for first, second in itertools.pairwise(ordered):
            if second.at < first.end:
                raise ValueError(
                    f"outages overlap: [{first.at:g}, {first.end:g}) and "
                    f"[{second.at:g}, {second.end:g})"
                )
        return self


def check_failure_rate(failure_rate: float | None, max_attempts: int | None) -> None:
    """failure_rate must be in [0, 1); 1.0 (never succeeds) only together with max_attempts."""
    if failure_rate is None:
        return
    if failure_rate > 1 or (failure_rate == 1 and max_attempts is None):
        raise ValueError(
            f"failure_rate must be at least 0 and below 1, got {failure_rate:g} "
            "(1.0 is accepted only together with max_attempts)"
        )


class AccountCap(Strict):
    """A fleet-wide cap: submissions per simulated second for every sender of the run
    together (an aggregator's fixed TPS per account), bursts of at most ``burst``."""

    max_rate: Rate
    burst: Burst = 1


# The seed's example fleet: what `sms-sim run` simulates when given no config file (the
# repository's config.yaml holds the same five gateways).
EXAMPLE_FLEET: tuple[SenderProfile, ...] = tuple(
    SenderProfile(mean_time=m, failure_rate=p)
    for m, p in ((0.05, 0.50), (0.10, 0.45), (0.15, 0.40), (0.20, 0.35), (0.10, 0.30))
)


class SimConfig(Strict):
    """The run's YAML config file, in the seed's format (unknown keys rejected).

    ``senders`` is None when the file lists none (``sms-sim run`` then refuses it)."""

    num_messages: Count = DEFAULT_COUNT
    report_period: Period = DEFAULT_REPORT_PERIOD
    shape: Shape = DEFAULT_SHAPE
    time_scale: Scale = 1.0
    invalid_fraction: Fraction = 0.0
    account: AccountCap | None = None
    partitions: Partitions = 1
    # figure -> condition, judged at the end (monitor/figures/thresholds.py checks them)
    thresholds: dict[str, str] = Field(default_factory=dict, max_length=100)
    senders: list[SenderProfile] | None = None

    @classmethod
    def example(cls) -> SimConfig:
        return cls(senders=list(EXAMPLE_FLEET))
