"""Which gateway profile a sender simulates: its flags, or the next one from the config."""

from __future__ import annotations

import logging
import os
import socket

from redis.asyncio import Redis

from common import keys as k
from common.errors import UsageProblem, run_gone
from common.keys import RunKeys
from common.model import SenderProfile
from common.run import RunWrites, read_state
from common.settings import SenderSettings

logger = logging.getLogger(__name__)


def default_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


async def resolve_profile(
    client: Redis, keys: RunKeys, settings: SenderSettings, run_id: str | None = None
) -> SenderProfile:
    """The explicit profile when both mean_time and failure_rate are given; otherwise claim
    the next unclaimed profile of the config's ``senders`` list (wrapping around), with any
    explicit flag or environment variable still winning. The claim counts in the run's
    incarnation ``run_id`` (default: the current one)."""
    if settings.mean_time is not None and settings.failure_rate is not None:
        base = SenderProfile(
            mean_time=settings.mean_time,
            failure_rate=settings.failure_rate,
            max_attempts=settings.max_attempts,
        )
    elif not settings.profiles:
        raise UsageProblem(
            "senders: the config lists no profile to claim; give --mean-time and --failure-rate"
        )
    else:
        writes = RunWrites(client, keys, run_id or (await _current_id(client, keys)))
        claim = await writes.hincrby(keys.run_meta, k.META_PROFILE_CLAIMS) - 1
        base = settings.profiles[claim % len(settings.profiles)]
        logger.info(
            "claimed profile %d of %d from the config",
            claim % len(settings.profiles) + 1,
            len(settings.profiles),
        )
    return complete_profile(base, settings)


async def _current_id(client: Redis, keys: RunKeys) -> str:
    state = await read_state(client, keys)
    if state is None:
        raise run_gone(keys.run)
    return state.id


def complete_profile(base: SenderProfile, settings: SenderSettings) -> SenderProfile:
    """``base`` with the sender's own flags over it and the global shape filled in: flag >
    profile entry > global default. Every other part of the profile (caps, outages,
    backoff, timeout) is the profile's own."""
    flags = {
        "mean_time": settings.mean_time,
        "failure_rate": settings.failure_rate,
        "concurrency": settings.concurrency,
        "max_attempts": settings.max_attempts,
    }
    given = {name: value for name, value in flags.items() if value is not None}
    profile = base.model_copy(update={**given, "shape": base.shape or settings.shape})
    return SenderProfile.model_validate(profile.model_dump())  # checked as a whole again
