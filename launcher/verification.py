"""``sms-sim plan --verify``: the planned fleet through the real simulation.

The fleet runs as ``sms-sim run`` would run its config (every role, on the embedded
Redis, compressed by the config's ``time_scale``), and the goal's time is read from what
the monitor measured: the run's completion, or when the share of its messages had been
delivered (from its deliveries over time).
"""

from __future__ import annotations

import asyncio
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from common.format import duration
from common.model import SimConfig
from launcher.planning import Goal
from launcher.simulate import plan, simulate
from monitor.figures.report import Report
from monitor.views.plain import PlainView


@dataclass(frozen=True)
class Verdict:
    took: float | None  # simulated seconds to the goal; None: never got there
    met: bool
    report: Report


def time_to(rep: Report, share: float | None) -> float | None:
    """Simulated seconds until ``share`` of the run's messages had been delivered (None:
    until every message was settled); None when the run never got there."""
    if share is None:
        return rep.elapsed if rep.complete else None
    need = math.ceil(share * rep.total - 1e-9)
    return next((x for x, delivered in rep.delivered if delivered >= need), None)


async def verify(config: SimConfig, goal: Goal) -> Verdict:
    """Run ``config`` through the simulation and judge it by ``goal``."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "planned.yaml"
        path.write_text(yaml.safe_dump(config.model_dump(by_alias=True, exclude_none=True)))
        the_plan = plan({"config": path, "run": f"plan-verify-{os.getpid()}"})
        rep = await simulate(the_plan, PlainView(), asyncio.Event())
    if rep is None:
        raise RuntimeError("the verification run never started")
    took = time_to(rep, goal.share)
    return Verdict(took, took is not None and took <= goal.deadline, rep)


def verdict_text(goal: Goal, verdict: Verdict) -> str:
    took = "never" if verdict.took is None else duration(verdict.took)
    result = "meets" if verdict.met else "MISSES"
    return (
        f"verified: the simulation of the answer took {took} until {goal.what} "
        f"(deadline {duration(goal.deadline)}): it {result} the deadline"
    )
