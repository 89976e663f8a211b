"""Every error that ends a command, each with its exit code, and the one translation of
Redis's errors into them (see DESIGN.md, "Exit codes").

A ``SimError``'s text is the one line the user sees after ``PROG: error:``.
"""

from __future__ import annotations

from collections.abc import Callable

from redis import exceptions as rx

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2
# A second SIGINT / SIGTERM ends a role at once, with the shell's codes (128 + signal).
EXIT_SIGINT = 130
EXIT_SIGTERM = 143
# The run completed and a threshold it was given failed (k6's code): a drill that did not
# meet its goals, told apart from a failure to run it.
EXIT_THRESHOLDS = 99


class SimError(Exception):
    """An error that ends a command with one line and ``exit_code``."""

    exit_code = EXIT_RUNTIME


class UsageProblem(SimError):
    """Bad usage or configuration (exit 2), e.g. a run that exists with other settings."""

    exit_code = EXIT_USAGE


class ConfigError(UsageProblem):
    """A configuration problem, already phrased as the one line the user sees."""


class MalformedEntry(ValueError):
    """An outbox entry whose fields are missing or invalid; the text is the reason.

    Not a ``SimError``: a malformed entry is dead-lettered, it ends no command."""


class TargetRefused(UsageProblem):
    """The server named by the URL refuses what the URL asks: its credentials, its
    database (exit 2: the URL is wrong)."""


class RuntimeFailure(SimError):
    """A failure at run time (exit 1)."""


class RedisUnavailable(RuntimeFailure):
    """Redis cannot be reached, is not Redis, or is too old; the text names the masked URL."""


class RedisRefused(RuntimeFailure):
    """Redis answered but refused the work: out of memory, missing permission, bad db."""


class RunMissing(RuntimeFailure):
    """The run's keys vanished mid-run (reset, Redis restarted without persistence, a key
    deleted or evicted). ``run``: its name, when known (``common.integrity`` then says
    which of these it was, where Redis can tell)."""

    def __init__(self, text: str, run: str | None = None) -> None:
        super().__init__(text)
        self.run = run


def run_gone(run: str) -> RunMissing:
    return RunMissing(
        f"run {run!r} is gone from Redis (reset, or Redis restarted without persistence)", run
    )


# Error replies of this project's scripts: the run's meta is gone, or belongs to another
# incarnation of the run (see common.run); and the consumer group is gone.
RUN_GONE_REPLIES = ("NORUN", "NOGROUP")


def _refused(prefix: str) -> Callable[[str], SimError]:
    return lambda text: RedisRefused(f"{prefix}: {text}")


_OUT_OF_MEMORY = "Redis is out of memory (maxmemory reached): free memory or raise maxmemory"
# redis-py's error classes, most specific first, and what the user reads for each.
_BY_CLASS: tuple[tuple[type[Exception], Callable[[str], SimError]], ...] = (
    (rx.OutOfMemoryError, lambda _: RedisRefused(_OUT_OF_MEMORY)),
    (rx.NoPermissionError, _refused("the Redis user may not run a command this needs")),
    (rx.AuthenticationError, lambda t: TargetRefused(f"Redis refused the credentials: {t}")),
    (rx.AuthorizationError, lambda t: TargetRefused(f"Redis refused the credentials: {t}")),
    (rx.ConnectionError, lambda text: RedisUnavailable(f"lost the Redis connection: {text}")),
    (rx.TimeoutError, lambda text: RedisUnavailable(f"lost the Redis connection: {text}")),
    (
        rx.InvalidResponse,
        lambda text: RedisUnavailable(f"the server does not speak the Redis protocol: {text}"),
    ),
)


def translate(exc: BaseException, run: str | None = None) -> BaseException:
    """``exc`` as the ``SimError`` a user should see; anything else unchanged."""
    if isinstance(exc, SimError):
        return exc
    text = str(exc)
    for cls, make in _BY_CLASS:
        if isinstance(exc, cls):
            return make(text)
    if isinstance(exc, rx.ResponseError):
        return _reply(text, run) or exc
    return exc


def _reply(text: str, run: str | None) -> SimError | None:
    """What an error reply means to the user, when it is one of ours."""
    if text.startswith(RUN_GONE_REPLIES):
        return run_gone(run or "?")
    if "DB index is out of range" in text:
        return TargetRefused(f"Redis has no such database: {text}")
    if text.startswith("OOM"):
        return RedisRefused(_OUT_OF_MEMORY)
    if "can't run this command" in text or text.startswith("NOPERM"):  # a script's command
        return RedisRefused(f"the Redis user may not run a command this needs: {text}")
    return None
