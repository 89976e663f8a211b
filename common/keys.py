"""Every Redis key name of a run, in one place (see DESIGN.md, "Redis keys")."""

from __future__ import annotations

from dataclasses import dataclass

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
# Run-level parameters, fixed when the run is created, read by every role.
META_TIME_SCALE = "time_scale"  # simulated seconds per real second
META_INVALID_FRACTION = "invalid_fraction"  # share of undeliverable recipients
META_ACCOUNT_RATE = "account_rate"  # fleet-wide cap, submissions per simulated second
META_ACCOUNT_BURST = "account_burst"
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
    META_TIME_SCALE,
    META_INVALID_FRACTION,
    META_ACCOUNT_RATE,
    META_ACCOUNT_BURST,
)


@dataclass(frozen=True)
class RunKeys:
    """The keys of one run. All share the hash tag ``{run}`` so a run lives in one slot."""

    run: str

    def _key(self, name: str) -> str:
        return f"sms:{{{self.run}}}:{name}"

    @property
    def outbox(self) -> str:
        return self._key("outbox")

    @property
    def results(self) -> str:
        return self._key("results")

    @property
    def meta(self) -> str:
        return self._key("meta")

    @property
    def delivered(self) -> str:
        return self._key("delivered")

    @property
    def senders(self) -> str:
        return self._key("senders")

    @property
    def dead(self) -> str:
        return self._key("dead")

    @property
    def monitor(self) -> str:
        return self._key("monitor")

    @property
    def account(self) -> str:
        """The fleet-wide cap's token bucket (sender/account.lua)."""
        return self._key("account")

    @property
    def summary(self) -> str:
        """The finished run's JSON summary (monitor/history.py), for ``sms-sim runs``."""
        return self._key("summary")

    def all(self) -> list[str]:
        """Every key of the run, for ``sms-sim reset``."""
        names = ("outbox", "results", "meta", "delivered", "senders", "dead", "monitor", "account")
        return [self._key(n) for n in (*names, "summary")]
