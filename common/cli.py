"""What every command-line entry shares: settings errors, exit codes, one-line messages."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar

from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from common.configfile import ConfigError, describe
from common.connection import RedisUnavailable
from common.errors import UsageProblem
from common.logs import setup_logging
from common.run import RunMissing
from common.settings import RoleSettings, load_settings

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2

S = TypeVar("S", bound=RoleSettings)
T = TypeVar("T")


def fail(prog: str, message: str, code: int) -> NoReturn:
    print(f"{prog}: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def settings_or_exit(prog: str, cls: type[S], flags: dict[str, Any]) -> S:
    """Load settings, or exit 2 with one line naming the field and the problem."""
    try:
        settings = load_settings(cls, flags)
    except ConfigError as exc:
        fail(prog, str(exc), EXIT_USAGE)
    except ValidationError as exc:
        fail(prog, describe(exc), EXIT_USAGE)
    setup_logging(settings.log_level)
    return settings


def run_async(prog: str, main: Coroutine[Any, Any, T]) -> T:
    """Run a role's main coroutine; runtime failures exit 1 with one line."""
    try:
        return asyncio.run(main)
    except UsageProblem as exc:
        fail(prog, str(exc), EXIT_USAGE)
    except (RedisUnavailable, RunMissing) as exc:
        fail(prog, str(exc), EXIT_RUNTIME)
    except (RedisConnectionError, RedisTimeoutError) as exc:
        fail(prog, f"lost the Redis connection: {exc}", EXIT_RUNTIME)
