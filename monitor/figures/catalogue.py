"""Every figure the monitor shows, declared once: the catalogue every output reads.

A run-level ``Figure`` is one field of the ``Report`` (``monitor/figures/report.py``,
named by its ``key``): its kind (how it reads), its group (where a view puts it), its
label, its name in plain ``key=value`` lines and CSV columns, its JSON field (also what
``sms-sim show`` and ``compare`` read back), and its Prometheus metric. A ``SenderFigure``
is one field of a ``SenderRow`` likewise. The plain line, the live dashboard, the final
text, the JSON summary, the CSV file, the HTML report, ``/metrics``, ``sms-sim show`` and
``compare`` all iterate these tuples, in this order; a figure added here (with the code
computing it in the report) reaches every one of them.

Times and rates are in the run's simulated time (``monitor/figures/clock.py``): the kinds
in ``SIMULATED`` say so in a compressed run. JSON and CSV names are kept as the first
versions had them (the JSON summary is a contract: fields are added, never removed).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    COUNT = "count"  # a whole number
    RATE = "rate"  # messages per simulated second; inf: unbounded
    SPAN = "span"  # a stretch of the run's (simulated) time: elapsed, time left
    FINISH = "finish"  # time left, read as a finish time ("in 2m03s (at 14:02:11)")
    SECONDS = "seconds"  # a short time: one attempt, one message
    RATIO = "ratio"  # a fraction, 0..1, shown as a percentage
    STATE = "state"  # a word: the run's state, a sender's status
    TEXT = "text"  # free text: a name, an error
    PERCENTILES = "percentiles"  # a distribution of times: its ladder, min ... max


SIMULATED = frozenset({Kind.RATE, Kind.SPAN, Kind.FINISH, Kind.SECONDS, Kind.PERCENTILES})


class Section(Enum):
    """Where a view puts a figure (the dashboard gives each group a section)."""

    HEAD = "head"  # the run's state and elapsed time: a summary's first line
    PROGRESS = "progress"  # total, sent, remaining: the progress bar
    RATES = "rates"  # measured rates beside their predictions, and finish times
    ATTEMPTS = "attempts"  # failures and mean times
    PERCENTILES = "percentiles"  # the distributions
    SETTLED = "settled"  # what was settled without a delivery


COUNTER, GAUGE, HISTOGRAM = "counter", "gauge", "histogram"


@dataclass(frozen=True)
class Metric:
    """How Prometheus sees a figure (``sms_sim_`` + ``name``; a counter adds ``_total``).

    ``per_sender``: a sender's figure, exported as one series per sender profile,
    labelled ``profile`` (their sum is the run's figure); ``source``: the field read for
    the samples when it is not the figure's own
    (a histogram reads the distribution itself, not its percentiles)."""

    name: str
    type: str  # COUNTER, GAUGE or HISTOGRAM; PERCENTILES as a GAUGE: one series a quantile
    help: str = ""  # said after the figure's label
    per_sender: bool = False
    source: str = ""


@dataclass(frozen=True)
class Label:
    text: str  # what a summary says
    short: str = ""  # what the dashboard says, where room is short ("": the text)
    scaled: str = ""  # the text in a compressed run ("": the text)
    scaled_short: str = ""  # the short text in a compressed run ("": the short text)

    def of(self, compressed: bool, short: bool = False) -> str:
        """The text (``short``: the short one) for a run compressed or not."""
        if short and self.short:
            return self.scaled_short if compressed and self.scaled_short else self.short
        return self.scaled if compressed and self.scaled else self.text


@dataclass(frozen=True)
class Figure:
    key: str  # the Report's field
    kind: Kind
    section: Section
    label: Label
    name: str  # plain key=value lines and CSV columns
    json: str  # the JSON summary's field
    metric: Metric
    out_of: str = ""  # shown as "value / <that figure>" in text (the other is then shown)
    shown_by: str = ""  # text views show it within that figure (``out_of``), not apart

    @property
    def simulated(self) -> bool:
        """In the run's simulated time (its unit is simulated seconds)."""
        return self.kind in SIMULATED


SIM = " (simulated)"


def _label(text: str, short: str = "", scaled: str = "", scaled_short: str = "") -> Label:
    if not short:  # one text for both, compressed or not
        scaled_short = scaled_short or scaled
    return Label(text, short, scaled, scaled_short)


C, G = COUNTER, GAUGE
K, S = Kind, Section
FIGURES: tuple[Figure, ...] = (
    Figure("state", K.STATE, S.HEAD, _label("state"), "state", "state",
           Metric("run_complete", G, "1 once the run is complete, else 0")),
    Figure("elapsed", K.SPAN, S.HEAD, _label("elapsed"), "elapsed", "elapsed",
           Metric("elapsed_seconds", G, "since the run's start, to its last result once complete")),
    Figure("total", K.COUNT, S.PROGRESS, _label("total (messages in the run)", "total"),
           "total", "total", Metric("run_messages", G), shown_by="sent"),
    Figure("sent", K.COUNT, S.PROGRESS, _label("sent (messages delivered)", "sent"), "sent",
           "sent", Metric("messages_sent", C, "each message counted once", per_sender=True),
           out_of="total"),
    Figure("remaining", K.COUNT, S.PROGRESS,
           _label("remaining (neither delivered nor settled)", "left"), "remaining", "remaining",
           Metric("messages_remaining", G)),
    Figure("rate", K.RATE, S.RATES, _label("rate (last 10 s)", scaled="rate (last 10 s real)"),
           "rate", "rate", Metric("rate_messages_per_second", G, "deliveries a simulated second")),
    Figure("overall_rate", K.RATE, S.RATES, _label("overall rate"), "avg_rate", "throughput",
           Metric("overall_messages_per_second", G, "since the run's start")),
    Figure("predicted_rate", K.RATE, S.RATES,
           _label("predicted overall rate (the fleet as it was)", "predicted overall"), "pred_rate",
           "predicted_rate", Metric("predicted_messages_per_second", G,
                                    "each sender's rate over the share of the run it was up")),
    Figure("predicted_now", K.RATE, S.RATES,
           _label("predicted rate (senders up now)", "predicted now"), "pred_now", "predicted_now",
           Metric("predicted_now_messages_per_second", G, "absent once the run is complete")),
    Figure("eta", K.SPAN, S.RATES,
           _label("ETA (at the rate of the last 10 s)", "ETA",
                  "ETA (at the rate of the last 10 s real)"),
           "eta", "eta", Metric("eta_seconds", G, "simulated seconds left")),
    Figure("predicted_finish", K.FINISH, S.RATES,
           _label("predicted finish (senders up now)", "predicted finish"), "pred_finish",
           "predicted_finish", Metric("predicted_finish_seconds", G, "simulated seconds left")),
    Figure("predicted_completion", K.SPAN, S.RATES,
           _label("predicted completion (from the profiles)", "predicted completion"),
           "pred_completion", "predicted_completion",
           Metric("predicted_completion_seconds", G, "simulated seconds from the run's start")),
    Figure("predicted_low", K.SPAN, S.RATES,
           _label("predicted completion, band low (virtual runs)", "band low"), "pred_low",
           "predicted_completion_low", Metric("predicted_completion_low_seconds", G)),
    Figure("predicted_high", K.SPAN, S.RATES,
           _label("predicted completion, band high (virtual runs)", "band high"), "pred_high",
           "predicted_completion_high", Metric("predicted_completion_high_seconds", G)),
    Figure("in_band", K.STATE, S.RATES,
           _label("completion within the predicted band", "within band"), "in_band",
           "completion_in_band", Metric("completion_in_band", G, "1 when yes, 0 when no")),
    Figure("failed", K.COUNT, S.ATTEMPTS, _label("failed attempts"), "failed_attempts",
           "failed_attempts",
           Metric("failed_attempts", C, "each failed retry counts", per_sender=True)),
    Figure("attempts", K.COUNT, S.ATTEMPTS, _label("attempts"), "attempts", "attempts",
           Metric("attempts", C, "sent + failed attempts + duplicates", per_sender=True)),
    Figure("failure_ratio", K.RATIO, S.ATTEMPTS,
           _label("failure ratio (failed / attempts)", "failure ratio"), "fail_ratio",
           "failure_ratio", Metric("failure_ratio", G)),
    Figure("avg_attempt_time", K.SECONDS, S.ATTEMPTS,
           _label("avg time/attempt", scaled="avg time/attempt" + SIM), "avg_attempt",
           "avg_attempt_time", Metric("avg_attempt_seconds", G)),
    Figure("avg_time_per_message", K.SECONDS, S.ATTEMPTS,
           _label("avg time/message (incl. retries)", "avg time/message",
                  "avg time/message (simulated, incl. retries)", "avg time/message" + SIM),
           "avg_per_msg", "avg_time_per_message", Metric("avg_time_per_message_seconds", G)),
    Figure("avg_lateness", K.SECONDS, S.ATTEMPTS,
           _label("avg lateness (attempt ended after due)", "avg lateness",
                  "avg lateness (simulated, attempt ended after due)", "avg lateness" + SIM),
           "avg_late", "avg_lateness",
           Metric("avg_lateness_seconds", G, "the simulator's own delay, not the gateway's")),
    Figure("delivery_time", K.PERCENTILES, S.PERCENTILES,
           _label("delivery time (from the run's start)", "delivery time",
                  "delivery time (simulated, from the run's start)"),
           "delivery", "delivery_time", Metric("delivery_time_seconds", G)),
    Figure("queue_wait", K.PERCENTILES, S.PERCENTILES,
           _label("queue wait + send (enqueue to delivered)", "queue wait + send",
                  "queue wait + send (simulated, enqueue to delivered)"),
           "wait", "latency", Metric("enqueue_to_delivered_seconds", HISTOGRAM,
                                     source="queue_wait_times")),
    Figure("attempt_time", K.PERCENTILES, S.PERCENTILES,
           _label("attempt time", scaled="attempt time" + SIM), "attempt", "attempt_time",
           Metric("attempt_duration_seconds", HISTOGRAM, "failed or not", per_sender=True,
                  source="attempt_times")),
    Figure("lateness", K.PERCENTILES, S.PERCENTILES,
           _label("lateness (attempt ended after due)", "lateness",
                  "lateness (simulated, attempt ended after due)"),
           "late", "lateness",
           Metric("lateness_seconds", G, "how long after it was due an attempt ended: the "
                  "simulator's own delay, not the gateway's")),
    Figure("duplicates", K.COUNT, S.SETTLED, _label("duplicates suppressed"), "dups",
           "duplicates_suppressed",
           Metric("duplicates_suppressed", C, "second successes, not counted as sent",
                  per_sender=True)),
    Figure("abandoned", K.COUNT, S.SETTLED, _label("abandoned"), "abandoned", "abandoned",
           Metric("messages_abandoned", C, "messages given up after max_attempts")),
    Figure("undeliverable", K.COUNT, S.SETTLED,
           _label("undeliverable (permanent failures)", "undeliverable"), "undeliverable",
           "undeliverable", Metric("messages_undeliverable", C,
                                   "messages to numbers that cannot receive, settled apart")),
    Figure("dead_letters", K.COUNT, S.SETTLED, _label("dead letters"), "dead", "dead_letters",
           Metric("dead_letters", C, "outbox entries that could not be processed")),
)  # fmt: skip

BY_KEY = {figure.key: figure for figure in FIGURES}


def figure(key: str) -> Figure:
    return BY_KEY[key]


def in_section(*sections: Section) -> tuple[Figure, ...]:
    return tuple(f for f in FIGURES if f.section in sections)


# --- per sender ------------------------------------------------------------------------


@dataclass(frozen=True)
class SenderFigure:
    """One field of a ``SenderRow``: its kind, its column header (``\\n`` splits it on the
    dashboard), its name in the final text's sender lines and in the JSON summary, and
    when the dashboard drops its column for room (the highest first; 0: never)."""

    key: str
    kind: Kind
    header: str
    name: str
    json: str
    drop: int = 0
    configured: bool = False  # from the sender's profile, not observed
    out_of: str = ""  # the dashboard shows it as "value/<that figure>" in one column
    shown_by: str = ""  # the dashboard shows it within that figure's column


SENDER_FIGURES: tuple[SenderFigure, ...] = (
    SenderFigure("status", K.STATE, "status", "status", "status"),
    SenderFigure("inflight", K.COUNT, "busy", "busy", "inflight", drop=1, out_of="concurrency"),
    SenderFigure("concurrency", K.COUNT, "slots", "slots", "concurrency", drop=1, configured=True,
                 shown_by="inflight"),
    SenderFigure("rate", K.RATE, "predicted\nrate", "predicted", "predicted_rate", drop=9,
                 configured=True),
    SenderFigure("sent", K.COUNT, "sent", "sent", "sent"),
    SenderFigure("share", K.RATIO, "share", "share", "share", drop=2),
    SenderFigure("failed", K.COUNT, "failed\nattempts", "failed_attempts", "failed_attempts",
                 drop=3),
    SenderFigure("attempts", K.COUNT, "attempts", "attempts", "attempts", drop=10),
    SenderFigure("duplicates", K.COUNT, "dups", "dups", "duplicates_suppressed", drop=11),
    SenderFigure("mean_time", K.SECONDS, "cfg\nmean", "cfg_mean", "mean_time", drop=5,
                 configured=True),
    SenderFigure("avg_attempt_time", K.SECONDS, "obs\nmean", "avg_attempt", "avg_attempt_time",
                 drop=4),
    SenderFigure("failure_rate", K.RATIO, "cfg\nfail", "cfg_fail", "failure_rate", drop=7,
                 configured=True),
    SenderFigure("failure_ratio", K.RATIO, "obs\nfail", "fail_ratio", "failure_ratio", drop=6),
    SenderFigure("attempt_time", K.PERCENTILES, "attempt", "attempt", "attempt_time", drop=8),
    SenderFigure("avg_lateness", K.SECONDS, "avg\nlate", "avg_late", "avg_lateness", drop=13),
    SenderFigure("lateness", K.PERCENTILES, "late", "late", "lateness", drop=14),
    SenderFigure("error", K.TEXT, "error", "error", "error", drop=12),
)  # fmt: skip
