"""Thresholds (issue 25): a drill's goals, parsed with one-line errors and judged on the
final report."""

from __future__ import annotations

import pytest

from common.errors import ConfigError
from common.run import RunState
from monitor.figures.thresholds import judge, parse, parse_flag
from tests.monitor.support import final_report

COMPLETE = RunState(total=10, produced=10, done=True, delivered=9, abandoned=1)


@pytest.mark.parametrize(
    ("figure", "condition", "limit"),
    [
        ("delivered_95", "<= 10m", 600.0),
        ("completion", "< 1.5h", 5400.0),
        ("latency.p99", "< 250ms", 0.25),
        ("elapsed", "<= 45", 45.0),
        ("undeliverable_ratio", "< 3%", 0.03),
        ("failure_ratio", "<= 0.5", 0.5),
        ("abandoned", "== 0", 0.0),
        ("throughput", ">= 400", 400.0),
    ],
)
def test_conditions_are_read_in_the_figures_unit(figure: str, condition: str, limit: float) -> None:
    (threshold,) = parse({figure: condition})
    assert threshold.limit == pytest.approx(limit)
    assert str(threshold) == f"{figure} {condition}"


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        ({"delivred_95": "<= 10m"}, "unknown figure 'delivred_95' (did you mean 'delivered_95'?)"),
        ({"state": "== 1"}, "unknown figure 'state'"),
        ({"delivered_95": "about 10m"}, "'about 10m' is not a condition: OP NUMBER[UNIT]"),
        ({"delivered_95": "<= ten"}, "is not a condition"),
        ({"delivered_95": 600}, "600 is not a condition such as '<= 10m'"),
        ({"delivered_95": "<= 10 days"}, "a time takes ms, s, m or h, not 'days'"),
        ({"delivered_95": "<= 10d"}, "a time takes ms, s, m or h, not 'd'"),
        ({"abandoned": "== 0s"}, "a count takes no unit ('s')"),
        ({"failure_ratio": "< 3ms"}, "a ratio takes % or a fraction, not 'ms'"),
        (
            {"latency.p80": "< 1s"},
            "latency.p80: no such percentile; there are min, p50, p66, p75, p90, p95, p99, p99.9,"
            " max",
        ),
        ({"delivered_120": "< 1s"}, "a share of the run's messages is 0..100"),
        ({"elapsed": "< 1e999"}, "the number is not finite"),
    ],
)
def test_a_wrong_threshold_is_one_line_naming_it(spec: dict[str, object], said: str) -> None:
    with pytest.raises(ConfigError, match=r"^thresholds") as raised:
        parse(spec)
    assert said in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_flag_reads_figure_and_condition() -> None:
    assert parse_flag("delivered_95 <= 10m") == ("delivered_95", "<= 10m")
    assert parse_flag("abandoned==0") == ("abandoned", "==0")
    with pytest.raises(ConfigError, match="not FIGURE OP VALUE"):
        parse_flag("delivered_95 within 10m")


def test_each_threshold_is_judged_on_the_final_report() -> None:
    rep = final_report(state=COMPLETE)
    assert rep.complete
    spec = {
        "abandoned": "== 0",  # one was abandoned: fails
        "abandoned_ratio": "< 20%",  # 1 of 10
        "completion": "<= 1h",
        "delivered_95": "<= 10m",
        "delivered_99": "<= 10m",  # never reached: fails
        "latency.p95": "< 10s",
        "sent": ">= 9",
    }
    reach = {0.95: 30.0}
    verdicts = judge(parse(spec), rep, reach.get)
    passed = {str(v.threshold): v.passed for v in verdicts}
    assert passed == {
        "abandoned == 0": False,
        "abandoned_ratio < 20%": True,
        "completion <= 1h": True,
        "delivered_95 <= 10m": True,
        "delivered_99 <= 10m": False,
        "latency.p95 < 10s": True,
        "sent >= 9": True,
    }
    values = {str(v.threshold): v.value for v in verdicts}
    assert values["abandoned == 0"] == 1 and values["abandoned_ratio < 20%"] == 0.1
    assert values["delivered_99 <= 10m"] is None and values["delivered_95 <= 10m"] == 30.0


def test_a_run_that_did_not_complete_has_no_completion() -> None:
    rep = final_report()  # 9 + 1 of 100 settled: stopped
    (verdict,) = judge(parse({"completion": "<= 1h", "sent": ">= 1"}), rep, lambda share: None)[:1]
    assert not rep.complete and verdict.value is None and verdict.passed is None  # not judged


def test_every_rung_of_the_percentile_ladder_is_a_figure() -> None:
    """``NAME.p99.9``, ``NAME.min`` and ``NAME.max`` read the ladder's fields (issue 25)."""
    rep = final_report(state=COMPLETE)
    assert rep.queue_wait is not None and rep.attempt_time is not None
    spec = {
        "latency.p99.9": "<= 1s",
        "latency.min": "< 510ms",  # 0.5 s, within the histogram's 1 %
        "attempt_time.max": "< 0.15",  # one attempt of 0.2 s: fails
        "latency.p66": "< 1s",
    }
    verdicts = {v.threshold.figure: v for v in judge(parse(spec), rep, lambda share: None)}
    assert verdicts["latency.p99.9"].value == rep.queue_wait.p99_9 == rep.queue_wait.max
    assert verdicts["latency.min"].value == rep.queue_wait.min == pytest.approx(0.5, rel=0.0101)
    assert verdicts["attempt_time.max"].value == pytest.approx(0.2, rel=0.0101)
    assert verdicts["latency.p66"].value == rep.queue_wait.p66
    passed = {figure: v.passed for figure, v in verdicts.items()}
    assert passed == {
        "latency.p99.9": True,
        "latency.min": True,
        "attempt_time.max": False,
        "latency.p66": True,
    }
