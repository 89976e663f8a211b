"""Which gateway profile a sender simulates: its flags, or the next one from the config."""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from redis.asyncio import Redis

from common import keys as k
from common.errors import UsageProblem, run_gone
from common.keys import RunKeys
from common.model import SenderProfile
from common.run import RunWrites, read_state
from common.settings import PROFILE_FLAGS, SenderSettings

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
        base = SenderProfile.model_validate(profile_flags(settings))
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


def profile_flags(settings: SenderSettings) -> dict[str, Any]:
    """The profile fields the sender's flags (or variables) set: ``PROFILE_FLAGS`` not None."""
    return {name: value for name in PROFILE_FLAGS if (value := getattr(settings, name)) is not None}


def complete_profile(base: SenderProfile, settings: SenderSettings) -> SenderProfile:
    """``base`` with the sender's profile flags (``PROFILE_FLAGS``) over it: flag > profile
    entry, but profile entry > flag for one that only fills a gap (``shape``: the global
    shape, for an entry without its own). Every other part of the profile (caps, outages,
    backoff, timeout) is the profile's own."""
    given = {
        name: value
        for name, value in profile_flags(settings).items()
        if PROFILE_FLAGS[name].over_profile or getattr(base, name) is None
    }
    profile = base.model_copy(update=given)
    return SenderProfile.model_validate(profile.model_dump())  # checked as a whole again
