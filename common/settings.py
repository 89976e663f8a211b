"""Configuration: the seed's YAML file model and one pydantic-settings model per role.

Precedence, highest first: command-line flag, environment variable (or ``.env``),
YAML config file, default. ``load_settings`` implements it for every role.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.configfile import ConfigError, describe, read_yaml_mapping

DEFAULT_RUN = "default"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
RUN_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


class SenderProfile(BaseModel):
    """One simulated gateway: the seed's ``{mean_time, failure_rate}`` plus optional extras."""

    model_config = ConfigDict(extra="forbid")

    mean_time: float = Field(ge=0, description="mean seconds per send attempt")
    failure_rate: float = Field(ge=0, description="probability an attempt fails")
    shape: float | None = Field(default=None, gt=0, description="gamma shape (default: global)")
    concurrency: int = Field(default=1, ge=1, description="send slots in one sender")
    max_attempts: int | None = Field(default=None, ge=1, description="give up after N attempts")

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


DEFAULT_FLEET: tuple[SenderProfile, ...] = tuple(
    SenderProfile(mean_time=m, failure_rate=p)
    for m, p in ((0.05, 0.50), (0.10, 0.45), (0.15, 0.40), (0.20, 0.35), (0.10, 0.30))
)


class SimConfig(BaseModel):
    """The YAML config file, in the seed's format (unknown keys rejected)."""

    model_config = ConfigDict(extra="forbid")

    num_messages: int = Field(default=1000, ge=0)
    report_period: float = Field(default=2.0, gt=0)
    shape: float = Field(default=10.0, gt=0)
    senders: list[SenderProfile] = Field(default_factory=lambda: list(DEFAULT_FLEET))


def read_config_file(path: Path) -> SimConfig:
    """Parse and validate a YAML config file in the seed's format."""
    data = read_yaml_mapping(path)
    try:
        return SimConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {describe(exc)}") from None


class RoleSettings(BaseSettings):
    """What every role shares: where Redis is, which run, which config file."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("redis_url", "REDIS_URL")
    )
    run: str = Field(
        default=DEFAULT_RUN, pattern=RUN_PATTERN, validation_alias=AliasChoices("run", "SMS_RUN")
    )
    config: Path | None = Field(default=None, validation_alias=AliasChoices("config", "SMS_CONFIG"))
    log_level: str = Field(default="INFO", validation_alias=AliasChoices("log_level", "LOG_LEVEL"))

    @property
    def server_url(self) -> str:
        """The Redis to use when a role runs on its own: REDIS_URL or the local default."""
        return self.redis_url or DEFAULT_REDIS_URL

    @classmethod
    def from_config_file(cls, cfg: SimConfig) -> dict[str, Any]:
        """The values this role takes from the YAML file."""
        return {}


class ProducerSettings(RoleSettings):
    model_config = SettingsConfigDict(env_prefix="PRODUCER_")

    count: int = Field(default=1000, ge=0, description="messages to enqueue")
    seed: int | None = Field(default=None, description="random seed for reproducible content")
    max_backlog: int = Field(default=10_000, ge=0, description="undelivered cap; 0 = no cap")
    batch_size: int = Field(default=5000, ge=1, le=100_000)

    @classmethod
    def from_config_file(cls, cfg: SimConfig) -> dict[str, Any]:
        return {"count": cfg.num_messages}


class SenderSettings(RoleSettings):
    model_config = SettingsConfigDict(env_prefix="SENDER_")

    mean_time: float | None = Field(default=None, ge=0)
    failure_rate: float | None = Field(default=None, ge=0)
    shape: float = Field(default=10.0, gt=0)
    concurrency: int | None = Field(default=None, ge=1)
    max_attempts: int | None = Field(default=None, ge=1)
    claim_idle: float = Field(default=10.0, gt=0)
    grace: float = Field(default=5.0, ge=0)
    name: str | None = Field(default=None, min_length=1, max_length=128)
    seed: int | None = None
    block: float = Field(default=1.0, gt=0, le=5, description="longest wait of one read (s)")
    profiles: list[SenderProfile] = Field(default_factory=lambda: list(DEFAULT_FLEET))

    @model_validator(mode="after")
    def _failure_rate_below_one(self) -> Self:
        check_failure_rate(self.failure_rate, self.max_attempts)
        return self

    @classmethod
    def from_config_file(cls, cfg: SimConfig) -> dict[str, Any]:
        return {"shape": cfg.shape, "profiles": cfg.senders}


class MonitorSettings(RoleSettings):
    model_config = SettingsConfigDict(env_prefix="MONITOR_")

    report_period: float = Field(default=2.0, gt=0)
    json_output: bool = Field(
        default=False, validation_alias=AliasChoices("json_output", "json", "MONITOR_JSON")
    )
    plain: bool = False
    report: Path | None = None
    keep_results: bool = False

    @classmethod
    def from_config_file(cls, cfg: SimConfig) -> dict[str, Any]:
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


def load_settings(cls: type[S], flags: dict[str, Any] | None = None) -> S:
    """Build a role's settings: flag > environment/.env > YAML file > default.

    Raises ``pydantic.ValidationError`` or ``common.configfile.ConfigError``.
    """
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    base = cls(_env_file=find_dotenv(), **given)  # type: ignore[call-arg]
    if base.config is None:
        return base
    file_values = cls.from_config_file(read_config_file(base.config))
    missing = {k: v for k, v in file_values.items() if k not in base.model_fields_set}
    return cls(_env_file=find_dotenv(), **{**missing, **_explicit(base)})  # type: ignore[call-arg]


def _explicit(settings: RoleSettings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in settings.model_fields_set}
