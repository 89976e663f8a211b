"""Configuration: the run's YAML file and one pydantic-settings model per role.

Precedence, highest first: command-line flag, environment variable (or ``.env``), YAML
config file, default. ``load_settings`` implements it for every role, for the role's own
command and for ``sms-sim run`` alike; each role's ``from_config`` is the one mapping
from the run's file to that role's settings. Every default is defined here, once.

Every number must be finite and within the limits below (``LIMITS`` in the README).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self, TypeVar

from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from common.configfile import describe, read_yaml_mapping
from common.errors import ConfigError
from common.model import (
    DEFAULT_COUNT,
    DEFAULT_REPORT_PERIOD,
    DEFAULT_SHAPE,
    EXAMPLE_FLEET,
    AccountCap,
    Attempts,
    Count,
    Fraction,
    Partitions,
    Period,
    Probability,
    Scale,
    Seconds,
    SenderProfile,
    Shape,
    SimConfig,
    Slots,
    check_failure_rate,
)
from common.target import RedisTarget, check_url

DEFAULT_RUN = "default"
RUN_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
MAX_GATEWAYS = 1000  # senders one process serves


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
        "redis_allow_eviction": "REDIS_ALLOW_EVICTION",
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
    redis_allow_eviction: bool = Field(  # a server that may evict a run's keys: at your risk
        default=False,
        validation_alias=AliasChoices("redis_allow_eviction", "REDIS_ALLOW_EVICTION"),
    )

    @property
    def target(self) -> RedisTarget:
        """The named server (a role refuses to run without one)."""
        target = RedisTarget.for_role(self.redis_url, self.redis_give_up)
        return replace(target, allow_eviction=self.redis_allow_eviction)

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
    """The producer creates the run: its messages, and the run-level parameters every
    role reads from the run (time scale, undeliverable share, account cap)."""

    model_config = SettingsConfigDict(env_prefix="PRODUCER_")

    count: Count = Field(default=DEFAULT_COUNT, description="messages to enqueue")
    seed: int | None = Field(default=None, description="random seed for reproducible content")
    max_backlog: Count = Field(default=10_000, description="undelivered cap; 0 = no cap")
    batch_size: int = Field(default=5000, ge=1, le=100_000)
    time_scale: Scale = Field(default=1.0, description="simulated seconds per real second")
    invalid_fraction: Fraction = 0.0
    account: AccountCap | None = None
    partitions: Partitions = Field(default=1, description="shards of the run (Redis Cluster)")

    @classmethod
    def from_config(cls, cfg: SimConfig) -> dict[str, Any]:
        return {
            "count": cfg.num_messages,
            "time_scale": cfg.time_scale,
            "invalid_fraction": cfg.invalid_fraction,
            "account": cfg.account,
            "partitions": cfg.partitions,
        }


@dataclass(frozen=True, slots=True)
class Flag:
    """Marks a settings field, ``name: Annotated[T, Flag()] = Field(description=...)``, as an
    option of its role's command: ``common.cli.with_flags`` makes it ``--name`` (reading
    the field's variable), its help the field's ``description``."""


@dataclass(frozen=True, slots=True)
class ProfileFlag(Flag):
    """A sender flag that sets its profile's field of the same name (``complete_profile``):
    over the profile's own value (``over_profile``), or only where the profile has none."""

    over_profile: bool = True


def flag_fields(model: type[BaseModel]) -> dict[str, Flag]:
    """The fields of ``model`` marked as flags of its command, in declaration order."""
    return {
        name: marker
        for name, info in model.model_fields.items()
        for marker in info.metadata
        if isinstance(marker, Flag)
    }


class SenderSettings(RoleSettings):
    """A sender's own settings; the ``ProfileFlag`` ones set its profile (flag > profile
    entry for most, profile entry > flag for ``shape``, the run's global shape)."""

    model_config = SettingsConfigDict(env_prefix="SENDER_")

    mean_time: Annotated[Seconds | None, ProfileFlag()] = Field(
        default=None, description="Mean seconds per attempt."
    )
    failure_rate: Annotated[Probability | None, ProfileFlag()] = Field(
        default=None, description="Chance an attempt fails."
    )
    shape: Annotated[Shape, ProfileFlag(over_profile=False)] = Field(
        default=DEFAULT_SHAPE, description="Gamma shape of the delay."
    )
    concurrency: Annotated[Slots | None, ProfileFlag()] = Field(
        default=None, description="Send slots (default: the profile's, else 1)."
    )
    max_attempts: Annotated[Attempts | None, ProfileFlag()] = Field(
        default=None, description="Abandon a message after N attempts (default: never)."
    )
    claim_idle: Annotated[Period, Flag()] = Field(
        default=10.0, description="Take over messages idle this long (s)."
    )
    grace: Annotated[Seconds, Flag()] = Field(
        default=5.0, description="Seconds to finish in-flight work on stop."
    )
    # No control character in a name: outcomes travel as tab-separated lines.
    name: Annotated[str | None, Flag()] = Field(
        default=None,
        min_length=1,
        max_length=128,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="Sender name (default: host-pid; NAME-N for several).",
    )
    seed: Annotated[int | None, Flag()] = Field(
        default=None, description="Seed for delays and failures."
    )
    block: float = Field(default=1.0, ge=0.001, le=5, description="longest wait of one read (s)")
    gateways: Annotated[int, Flag()] = Field(
        default=1,
        ge=1,
        le=MAX_GATEWAYS,
        description="Senders this process serves, each claiming the config's next profile.",
    )
    profiles: list[SenderProfile] = Field(default_factory=lambda: list(EXAMPLE_FLEET))

    @model_validator(mode="after")
    def _failure_rate_below_one(self) -> Self:
        check_failure_rate(self.failure_rate, self.max_attempts)
        return self

    @classmethod
    def from_config(cls, cfg: SimConfig) -> dict[str, Any]:
        return {"shape": cfg.shape, "profiles": cfg.senders or []}


# The sender's flags that set its profile, each a field of SenderProfile too (checked here).
PROFILE_FLAGS: dict[str, ProfileFlag] = {
    name: flag
    for name, flag in flag_fields(SenderSettings).items()
    if isinstance(flag, ProfileFlag)
}
if stray := sorted(set(PROFILE_FLAGS) - set(SenderProfile.model_fields)):
    raise TypeError(f"SenderSettings: ProfileFlag on {stray}, not fields of SenderProfile")


class MonitorSettings(RoleSettings):
    model_config = SettingsConfigDict(env_prefix="MONITOR_")

    report_period: Period = DEFAULT_REPORT_PERIOD
    json_output: bool = Field(
        default=False, validation_alias=AliasChoices("json_output", "json", "MONITOR_JSON")
    )
    plain: bool = False
    report: Path | None = None
    keep_results: bool = False
    metrics_port: int | None = Field(default=None, ge=0, le=65535)  # 0: any free port
    metrics_addr: str = Field(
        default="0.0.0.0", min_length=1, description="Address /metrics listens on."
    )
    # Two scrapes at 15 s (Prometheus's example configuration), fifteen at observe's 2 s.
    metrics_hold: Seconds = Field(
        default=30.0, description="Seconds /metrics stays up after the final report."
    )
    csv: Path | None = None
    # figure -> condition: the goals the run must meet (monitor/figures/thresholds.py)
    thresholds: dict[str, str] = Field(
        default_factory=dict,
        max_length=100,
        description='Goals judged at the end, JSON: {"delivered_95": "<= 10m"} (exit 99).',
    )

    @classmethod
    def env_name(cls, field: str) -> str:
        return "MONITOR_JSON" if field == "json_output" else super().env_name(field)

    @field_validator("report", "csv")
    @classmethod
    def _writable(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        """Refuse at once a report or CSV path that cannot be written."""
        if path is None:
            return None
        if path.is_dir():
            name = "periods.csv" if info.field_name == "csv" else "report.html"
            raise ValueError(f"{path} is a directory; give a file name such as {path}/{name}")
        folder = path.absolute().parent  # never created: a typo must not make folders
        if not folder.exists():
            raise ValueError(f"cannot create {path}: no folder {folder}")
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise ValueError(f"cannot create {path}: {folder} is not a writable directory")
        return path

    @classmethod
    def from_config(cls, cfg: SimConfig) -> dict[str, Any]:
        return {"report_period": cfg.report_period, "thresholds": cfg.thresholds}


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
    base = _made(cls, given)
    if cfg is None and base.config is not None:
        cfg = read_config_file(base.config)
    if cfg is None:
        return base
    from_file = {k: v for k, v in cls.from_config(cfg).items() if k not in base.model_fields_set}
    return _made(cls, {**from_file, **_explicit(base)})


def _made(cls: type[S], values: dict[str, Any]) -> S:
    """``cls`` from ``values``, the environment and ``.env``; ConfigError naming the
    variable when one that takes JSON (a mapping) holds something else."""
    try:
        return cls(_env_file=find_dotenv(), **values)  # type: ignore[call-arg]
    except SettingsError as exc:
        found = re.search(r'field "(\w+)"', str(exc))
        name = cls.env_name(found.group(1)) if found else "a variable"
        raise ConfigError(f"{name}: not valid JSON, which this variable takes") from None


def _explicit(settings: RoleSettings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in settings.model_fields_set}
