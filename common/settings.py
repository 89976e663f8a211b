"""Configuration: the run's YAML file and one pydantic-settings model per role.

Precedence, highest first: command-line flag, environment variable (or ``.env``), YAML
config file, default. ``load_settings`` implements it for every role, for the role's own
command and for ``sms-sim run`` alike; each role's ``from_config`` is the one mapping
from the run's file to that role's settings. Every default is defined here, once.

Every number must be finite and within the limits below (``LIMITS`` in the README).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self, TypeVar

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.configfile import describe, read_yaml_mapping
from common.errors import ConfigError
from common.target import RedisTarget, check_url

DEFAULT_RUN = "default"
DEFAULT_COUNT = 1000
DEFAULT_REPORT_PERIOD = 2.0
DEFAULT_SHAPE = 10.0  # as in the reference Rust version
RUN_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"

# Limits: beyond these a value is a typo, or more than this code can serve.
MAX_MESSAGES = 1_000_000_000
MAX_SECONDS = 86_400.0  # any time setting: one day
MAX_CONCURRENCY = 100_000
MAX_ATTEMPTS = 1_000_000
MAX_SHAPE = 1_000_000.0


def _no_bool(value: Any) -> Any:
    """YAML's ``true`` is not the number 1."""
    if isinstance(value, bool):
        raise ValueError("Input should be a number, not true/false")
    return value


Seconds = Annotated[float, BeforeValidator(_no_bool), Field(ge=0, le=MAX_SECONDS)]
Count = Annotated[int, BeforeValidator(_no_bool), Field(ge=0, le=MAX_MESSAGES)]
Probability = Annotated[float, BeforeValidator(_no_bool), Field(ge=0, le=1)]
Shape = Annotated[float, BeforeValidator(_no_bool), Field(gt=0, le=MAX_SHAPE)]
Slots = Annotated[int, BeforeValidator(_no_bool), Field(ge=1, le=MAX_CONCURRENCY)]
Attempts = Annotated[int, BeforeValidator(_no_bool), Field(ge=1, le=MAX_ATTEMPTS)]
Period = Annotated[float, BeforeValidator(_no_bool), Field(gt=0, le=MAX_SECONDS)]


class SenderProfile(BaseModel):
    """One simulated gateway: the seed's ``{mean_time, failure_rate}`` plus optional extras."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    mean_time: Seconds = Field(description="mean seconds per send attempt")
    failure_rate: Probability = Field(description="probability an attempt fails")
    shape: Shape | None = Field(default=None, description="gamma shape (default: global)")
    concurrency: Slots = Field(default=1, description="send slots in one sender")
    max_attempts: Attempts | None = Field(default=None, description="give up after N attempts")

    @model_validator(mode="after")
    def _failure_rate_below_one(self) -> Self:
        check_failure_rate(self.failure_rate, self.max_attempts)
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


# The seed's example fleet: what `sms-sim run` simulates when given no config file (the
# repository's config.yaml holds the same five gateways).
EXAMPLE_FLEET: tuple[SenderProfile, ...] = tuple(
    SenderProfile(mean_time=m, failure_rate=p)
    for m, p in ((0.05, 0.50), (0.10, 0.45), (0.15, 0.40), (0.20, 0.35), (0.10, 0.30))
)


class SimConfig(BaseModel):
    """The run's YAML config file, in the seed's format (unknown keys rejected).

    ``senders`` is None when the file lists none (``sms-sim run`` then refuses it)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    num_messages: Count = DEFAULT_COUNT
    report_period: Period = DEFAULT_REPORT_PERIOD
    shape: Shape = DEFAULT_SHAPE
    senders: list[SenderProfile] | None = None

    @classmethod
    def example(cls) -> SimConfig:
        return cls(senders=list(EXAMPLE_FLEET))


def read_config_file(path: Path) -> SimConfig:
    """Parse and validate a YAML config file in the seed's format."""
    data = read_yaml_mapping(path)
    try:
        return SimConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {describe(exc)}") from None


class RoleSettings(BaseSettings):
    """What every role shares: where Redis is, which run, which config file.

    ``redis_url`` None means no server was named: the roles refuse that, ``sms-sim run``
    takes it as the embedded server (``common.target``)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, allow_inf_nan=False)

    # The variable each shared field reads (role fields read PREFIX + NAME).
    ENV_NAMES: ClassVar[dict[str, str]] = {
        "redis_url": "REDIS_URL",
        "run": "SMS_RUN",
        "config": "SMS_CONFIG",
        "log_level": "LOG_LEVEL",
        "redis_give_up": "REDIS_GIVE_UP",
    }

    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("redis_url", "REDIS_URL")
    )
    run: str = Field(
        default=DEFAULT_RUN, pattern=RUN_PATTERN, validation_alias=AliasChoices("run", "SMS_RUN")
    )
    config: Path | None = Field(default=None, validation_alias=AliasChoices("config", "SMS_CONFIG"))
    log_level: str = Field(default="INFO", validation_alias=AliasChoices("log_level", "LOG_LEVEL"))
    redis_give_up: Period = Field(
        default=60.0, validation_alias=AliasChoices("redis_give_up", "REDIS_GIVE_UP")
    )

    @property
    def target(self) -> RedisTarget:
        """The named server (a role refuses to run without one)."""
        return RedisTarget.for_role(self.redis_url, self.redis_give_up)

    @field_validator("redis_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value)

    @classmethod
    def env_name(cls, field: str) -> str:
        """The environment variable that sets ``field``."""
        prefix = cls.model_config.get("env_prefix") or ""
        return cls.ENV_NAMES.get(field) or f"{prefix}{field}".upper()

    @classmethod
    def from_config(cls, cfg: SimConfig) -> dict[str, Any]:
        """The values this role takes from the run's YAML file."""
        return {}


class ProducerSettings(RoleSettings):
    model_config = SettingsConfigDict(env_prefix="PRODUCER_")

    count: Count = Field(default=DEFAULT_COUNT, description="messages to enqueue")
    seed: int | None = Field(default=None, description="random seed for reproducible content")
    max_backlog: Count = Field(default=10_000, description="undelivered cap; 0 = no cap")
    batch_size: int = Field(default=5000, ge=1, le=100_000)

    @classmethod
    def from_config(cls, cfg: SimConfig) -> dict[str, Any]:
        return {"count": cfg.num_messages}


class SenderSettings(RoleSettings):
    """A sender's own flags; ``mean_time`` ... ``max_attempts`` override its profile."""

    model_config = SettingsConfigDict(env_prefix="SENDER_")

    mean_time: Seconds | None = None
    failure_rate: Probability | None = None
    shape: Shape = DEFAULT_SHAPE
    concurrency: Slots | None = None
    max_attempts: Attempts | None = None
    claim_idle: Period = 10.0
    grace: Seconds = 5.0
    name: str | None = Field(default=None, min_length=1, max_length=128)
    seed: int | None = None
    block: float = Field(default=1.0, ge=0.001, le=5, description="longest wait of one read (s)")
    profiles: list[SenderProfile] = Field(default_factory=lambda: list(EXAMPLE_FLEET))

    @model_validator(mode="after")
    def _failure_rate_below_one(self) -> Self:
        check_failure_rate(self.failure_rate, self.max_attempts)
        return self

    @classmethod
    def from_config(cls, cfg: SimConfig) -> dict[str, Any]:
        return {"shape": cfg.shape, "profiles": cfg.senders or []}


class MonitorSettings(RoleSettings):
    model_config = SettingsConfigDict(env_prefix="MONITOR_")

    report_period: Period = DEFAULT_REPORT_PERIOD
    json_output: bool = Field(
        default=False, validation_alias=AliasChoices("json_output", "json", "MONITOR_JSON")
    )
    plain: bool = False
    report: Path | None = None
    keep_results: bool = False

    @classmethod
    def env_name(cls, field: str) -> str:
        return "MONITOR_JSON" if field == "json_output" else super().env_name(field)

    @field_validator("report")
    @classmethod
    def _writable(cls, path: Path | None) -> Path | None:
        """Refuse at once a report path that cannot be written at the end."""
        if path is None:
            return None
        if path.is_dir():
            raise ValueError(f"{path} is a directory; give a file name such as {path}/report.html")
        folder = next((p for p in path.absolute().parents if p.exists()), None)
        if folder is None or not folder.is_dir() or not os.access(folder, os.W_OK):
            raise ValueError(f"cannot create {path}: {folder} is not a writable directory")
        return path

    @classmethod
    def from_config(cls, cfg: SimConfig) -> dict[str, Any]:
        return {"report_period": cfg.report_period}


S = TypeVar("S", bound=RoleSettings)


def find_dotenv(start: Path | None = None) -> Path | None:
    """The nearest ``.env`` in the working directory or a parent of it."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / ".env"
        if candidate.is_file():
            return candidate
    return None


def load_settings(
    cls: type[S], flags: dict[str, Any] | None = None, cfg: SimConfig | None = None
) -> S:
    """A role's settings: flag > environment/.env > YAML file > default.

    The file is the one the settings name (``--config``/``SMS_CONFIG``), or ``cfg`` when
    the caller has read it already. Raises ``ValidationError`` or ``ConfigError``.
    """
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    base = cls(_env_file=find_dotenv(), **given)  # type: ignore[call-arg]
    if cfg is None and base.config is not None:
        cfg = read_config_file(base.config)
    if cfg is None:
        return base
    from_file = {k: v for k, v in cls.from_config(cfg).items() if k not in base.model_fields_set}
    return cls(_env_file=find_dotenv(), **{**from_file, **_explicit(base)})  # type: ignore[call-arg]


def _explicit(settings: RoleSettings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in settings.model_fields_set}
