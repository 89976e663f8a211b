"""Every Redis key name of a run, in one place (see DESIGN.md, "Redis keys")."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from redis.crc import key_slot

GROUP = "senders"

# Fields of the run's meta hash.
# The run's incarnation: a fresh id whenever the run's meta is created. Every write of a
# role checks it, so nothing is written for a run that was reset (or lost with a Redis
# restart) and created again under the same name.
META_ID = "id"
META_TOTAL = "total"
META_PRODUCED = "produced"
META_DONE = "done"
META_CREATED = "created"
META_CONFIG = "config"
META_DELIVERED = "delivered"
META_ABANDONED = "abandoned"
META_DEAD = "dead_letters"
META_PROFILE_CLAIMS = "profile_claims"
META_UNDELIVERABLE = "undeliverable"  # messages to an undeliverable number (permanent)
META_DUPLICATES = "duplicates"  # deliveries of a message delivered before (suppressed)
# Run-level parameters, fixed when the run is created, read by every role.
META_TIME_SCALE = "time_scale"  # simulated seconds per real second
META_INVALID_FRACTION = "invalid_fraction"  # share of undeliverable recipients
META_ACCOUNT_RATE = "account_rate"  # fleet-wide cap, submissions per simulated second
META_ACCOUNT_BURST = "account_burst"
META_PARTITIONS = "partitions"  # the run's partitions (each with its keys and counters)
# Bit i of the delivered bitmap is message (delivered_base + i)'s; every seq below the
# base is settled (see sender/record.lua).
META_DELIVERED_BASE = "delivered_base"
# The idempotency tag of a sender's last recording batch is meta field BATCH_TAG + name.
META_BATCH_TAG = "batch:"
META_FIELDS = (
    META_ID,
    META_TOTAL,
    META_PRODUCED,
    META_DONE,
    META_CREATED,
    META_CONFIG,
    META_DELIVERED,
    META_ABANDONED,
    META_DEAD,
    META_PROFILE_CLAIMS,
    META_DELIVERED_BASE,
    META_UNDELIVERABLE,
    META_DUPLICATES,
    META_TIME_SCALE,
    META_INVALID_FRACTION,
    META_ACCOUNT_RATE,
    META_ACCOUNT_BURST,
    META_PARTITIONS,
)


SLOTS = 16384  # hash slots of a Redis Cluster


def partition_tag(run: str, partition: int, partitions: int) -> str:
    """The hash tag of one partition of a run: its slot falls in the partition's own share
    of the slot space (the p-th of ``partitions`` equal parts), so a cluster whose masters
    hold equal shares keeps the partitions on different masters. The same tag in every
    role: it depends on the run's name and partition count only."""
    low, high = partition * SLOTS // partitions, (partition + 1) * SLOTS // partitions
    for attempt in itertools.count():
        tag = f"{run}:{partition}" if attempt == 0 else f"{run}:{partition}:{attempt}"
        if low <= key_slot(f"{{{tag}}}".encode()) < high:
            return tag
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class RunKeys:
    """The keys of one run, or of one partition of a run.

    A run of one partition (the default) keeps every key under the hash tag ``{run}``, in
    one slot. With ``partitions`` > 1 (issue 15), each partition's stream keys, bitmap,
    counters and checkpoint (``outbox`` ... ``monitor``) share a tag of their own, and
    the run-level keys (``run_meta``, ``senders``, ``account``) keep ``{run}``: every
    script touches one partition, or the run, and stays in one slot.
    """

    run: str
    partition: int = 0
    partitions: int = 1

    def part(self, partition: int, partitions: int) -> RunKeys:
        """The keys of one partition of this run."""
        return RunKeys(self.run, partition, partitions)

    def parts(self, partitions: int) -> list[RunKeys]:
        return [self.part(p, partitions) for p in range(partitions)]

    @property
    def tag(self) -> str:
        if self.partitions == 1:
            return self.run
        return partition_tag(self.run, self.partition, self.partitions)

    def _key(self, name: str) -> str:
        return f"sms:{{{self.tag}}}:{name}"

    def _run_key(self, name: str) -> str:
        return f"sms:{{{self.run}}}:{name}"

    @property
    def outbox(self) -> str:
        return self._key("outbox")

    @property
    def results(self) -> str:
        return self._key("results")

    @property
    def meta(self) -> str:
        """This partition's counters (the run's own meta when it has one partition)."""
        return self._key("meta")

    @property
    def delivered(self) -> str:
        return self._key("delivered")

    @property
    def dead(self) -> str:
        return self._key("dead")

    @property
    def monitor(self) -> str:
        return self._key("monitor")

    @property
    def run_meta(self) -> str:
        """The run's meta: its id, parameters and (one partition) counters."""
        return self._run_key("meta")

    @property
    def senders(self) -> str:
        return self._run_key("senders")

    @property
    def account(self) -> str:
        """The fleet-wide cap's token bucket (sender/account.lua)."""
        return self._run_key("account")

    @property
    def summary(self) -> str:
        """The finished run's JSON summary (monitor/views/history.py), for ``sms-sim runs``."""
        return self._run_key("summary")

    def all(self, partitions: int = 1) -> list[str]:
        """Every key of the run (of all its partitions), for ``sms-sim reset``."""
        run_level = [self.run_meta, self.senders, self.account, self.summary]
        names = ("outbox", "results", "meta", "delivered", "dead", "monitor")
        per_part = [getattr(part, n) for part in self.parts(partitions) for n in names]
        return list(dict.fromkeys([*run_level, *per_part]))
