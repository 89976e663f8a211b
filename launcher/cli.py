"""sms-sim: the whole simulation in one process, and resetting a run."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sys
from pathlib import Path

import typer
from pydantic import ValidationError

from common.cli import (
    Command,
    fail,
    given,
    option,
    reads,
    redis_option,
    run_async,
    run_cli,
    run_option,
    settings_or_exit,
    version_option,
)
from common.configfile import describe
from common.connection import client_for
from common.errors import EXIT_USAGE, SimError, UsageProblem
from common.keys import RunKeys
from common.logs import setup_logging
from common.run import runs_on_server
from common.settings import MonitorSettings, ProducerSettings, RoleSettings, SenderSettings
from common.stop import install_stop_handlers
from common.target import RedisTarget
from common.virtual.forecast import Effort, forecast
from launcher import forecasts, planning, runs, runs_text, verification
from launcher.simulate import LauncherSettings, Plan, WorkersLost, plan, reset, simulate
from monitor.figures.report import Report
from monitor.goals import exit_on_thresholds, threshold_option, with_thresholds
from monitor.views.json_summary import summary
from monitor.views.outputs import open_outputs
from monitor.views.view import make_view

logger = logging.getLogger(__name__)
PROG = "sms-sim"
app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="SMS alert blast simulator on Redis Streams."
)


@app.callback()
def sim(version: bool = version_option()) -> None:
    """SMS alert blast simulator on Redis Streams."""


M = MonitorSettings


@app.command("run", cls=Command)
# The senders' variables too (SENDER_CONCURRENCY sets every sender's slots): not --gateways.
@reads(LauncherSettings, ProducerSettings, SenderSettings, MonitorSettings, ignoring=["gateways"])
def run_cmd(
    ctx: typer.Context,
    config: Path | None = typer.Argument(
        None,
        help="YAML config (default: the built-in example fleet of five gateways).",
        envvar="SMS_CONFIG",
        show_envvar=True,
    ),
    redis_url: str | None = redis_option("Use this Redis server instead of the embedded one."),
    run: str = run_option(),
    seed: int | None = option(LauncherSettings, "seed", "Seed for content, delays, failures."),
    count: int | None = option(
        ProducerSettings,
        "count",
        "Messages to enqueue (default: the config's num_messages).",
        show_default=False,
    ),
    time_scale: float | None = option(
        ProducerSettings,
        "time_scale",
        "Simulated seconds per real second (default: the config's time_scale, else 1).",
        show_default=False,
    ),
    partitions: int | None = option(
        ProducerSettings,
        "partitions",
        "Partitions of the run, for a Redis Cluster (default: the config's, else 1).",
        show_default=False,
    ),
    json_output: bool = option(M, "json_output", "Print the final summary as JSON.", "--json"),
    plain: bool = option(M, "plain", "One key=value line per report."),
    report: Path | None = option(M, "report", "Write a self-contained HTML report here."),
    metrics_port: int | None = option(M, "metrics_port", "Serve Prometheus /metrics here."),
    metrics_addr: str = option(M, "metrics_addr", "Address /metrics listens on."),
    metrics_hold: float = option(
        M, "metrics_hold", "Seconds /metrics stays up after the final report (Ctrl-C ends it)."
    ),
    csv: Path | None = option(
        M, "csv", "Write one CSV row per report period here (with -senders and -failures files)."
    ),
    workers: int | None = option(
        LauncherSettings,
        "workers",
        "Processes the senders are spread over (default: the machine's cores).",
        show_default=False,
    ),
    threshold: list[str] | None = threshold_option(),
) -> None:
    """Run the producer, one sender per configured profile and the monitor; the senders
    spread over --workers processes."""
    flags = given(ctx)
    flags.pop("threshold", None)
    the_plan = _plan_or_exit(flags)
    monitor = with_thresholds(PROG, the_plan.monitor, threshold)
    the_plan = dataclasses.replace(the_plan, monitor=monitor)
    rep = run_async(PROG, _simulate(the_plan))
    if rep is not None and the_plan.monitor.json_output:
        print(json.dumps(summary(rep)))
    exit_on_thresholds(PROG, rep)


def _plan_or_exit(flags: dict[str, object]) -> Plan:
    try:
        the_plan = plan(flags)
    except SimError as exc:
        fail(PROG, str(exc), exc.exit_code)
    except ValidationError as exc:
        fail(PROG, describe(exc), EXIT_USAGE)
    setup_logging(the_plan.producer.log_level)
    return the_plan


async def _simulate(the_plan: Plan) -> Report | None:
    stop = asyncio.Event()
    install_stop_handlers(stop, PROG)
    with open_outputs(the_plan.monitor) as outputs:  # a port in use: exit 2 before the run
        view = outputs.around(make_view(the_plan.monitor.plain))
        try:
            rep = await simulate(the_plan, view, stop)
        except WorkersLost as exc:
            if exc.report is not None and the_plan.monitor.json_output:
                print(json.dumps(summary(exc.report)))
            raise
        await outputs.linger(rep)  # Prometheus scrapes the end
        return rep


@app.command("reset", cls=Command)
def reset_cmd(
    ctx: typer.Context,
    run: str = option(
        RoleSettings, "run", "The run to delete (no default: name it).", show_default=False
    ),
    redis_url: str | None = redis_option(),
) -> None:
    """Delete every key of a run: the run named by --run (or SMS_RUN), never one by
    default; a run that is not on the server is an error (exit 2)."""
    opts = settings_or_exit(PROG, RoleSettings, given(ctx))
    target = _named_server(opts, "reset")
    if "run" not in opts.model_fields_set:  # not named: neither --run, SMS_RUN nor .env
        fail(PROG, "reset deletes a run: name it with --run NAME (nothing deleted)", EXIT_USAGE)
    deleted = run_async(PROG, _reset(target, opts.run))
    print(f"run {opts.run!r}: deleted {deleted} key(s) on {target.display}")


def _named_server(opts: RoleSettings, command: str) -> RedisTarget:
    if opts.redis_url is None:
        fail(
            PROG,
            f"{command} needs --redis-url or REDIS_URL (the embedded Redis keeps nothing)",
            EXIT_USAGE,
        )
    return opts.target


async def _reset(target: RedisTarget, run: str) -> int:
    """The keys deleted; UsageProblem (nothing deleted) when the run is not there."""
    async with client_for(target, "reset") as client:
        deleted = await reset(client, RunKeys(run))
        if not deleted:
            found = await runs_on_server(client, run)
            raise UsageProblem(
                f"no run {run!r} on {target.display}: nothing deleted"
                + (f" ({found})" if found else "")
            )
        return deleted


@app.command("runs", cls=Command)
def runs_cmd(
    ctx: typer.Context,
    redis_url: str | None = redis_option(),
    json_output: bool = typer.Option(False, "--json", help="One JSON array on stdout."),
) -> None:
    """List the runs on a Redis server: the finished ones (newest first, with key figures),
    then those with no summary kept (running, interrupted)."""
    target = _named_server(settings_or_exit(PROG, RoleSettings, given(ctx)), "runs")
    found = run_async(PROG, runs.stored_runs(target))
    if json_output:
        print(json.dumps([runs_text.as_json(stored) for stored in found]))
    else:
        print(runs_text.runs_text(found))


@app.command("show", cls=Command)
def show_cmd(
    ctx: typer.Context,
    run: str = typer.Argument(..., help="The run's name."),
    redis_url: str | None = redis_option(),
    json_output: bool = typer.Option(False, "--json", help="The summary as --json printed it."),
) -> None:
    """Print one finished run's summary."""
    target = _named_server(settings_or_exit(PROG, RoleSettings, given(ctx)), "show")
    (stored,) = run_async(PROG, runs.finished(target, run))
    print(json.dumps(stored.summary) if json_output else runs_text.show_text(stored))


@app.command("compare", cls=Command)
def compare_cmd(
    ctx: typer.Context,
    run_a: str = typer.Argument(..., help="The first run."),
    run_b: str = typer.Argument(..., help="The second run: differences are B - A."),
    redis_url: str | None = redis_option(),
) -> None:
    """Print two finished runs side by side, with the differences."""
    target = _named_server(settings_or_exit(PROG, RoleSettings, given(ctx)), "compare")
    first, second = run_async(PROG, runs.finished(target, run_a, run_b))
    print(runs_text.compare_text(first, second))


@app.command("predict", cls=Command)
def predict_cmd(
    config: Path | None = typer.Argument(
        None, help="YAML config (default: the built-in example fleet).", envvar="SMS_CONFIG"
    ),
    count: int | None = typer.Option(
        None, help="Messages (default: the config's num_messages).", show_default=False
    ),
    replications: int | None = typer.Option(
        None,
        min=1,
        max=10_000,
        help="Virtual runs (default: as many as fit 8 s, 4 to 200).",
        show_default=False,
    ),
    band: str = typer.Option("5-95", help="The band's low and high percentiles."),
    seed: int | None = typer.Option(None, help="Seed (the same seed, the same forecast)."),
    json_output: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
) -> None:
    """Forecast a fleet from its config, without running it: completion and delivery
    times as bands over many virtual runs (the same gateways, on a virtual clock)."""
    setup_logging("WARNING")
    try:
        cfg = forecasts.load_config(config, count)
        effort = Effort(replications, seed, forecasts.parse_band(band))
    except SimError as exc:
        fail(PROG, str(exc), exc.exit_code)
    except ValidationError as exc:
        fail(PROG, describe(exc), EXIT_USAGE)
    forecasts.say_if_long(cfg)
    found = forecast(cfg, effort, forecasts.progress_after(2.0))
    source = str(config) if config else "the example fleet"
    if json_output:
        print(json.dumps(forecasts.forecast_json(cfg, found, source)))
    else:
        print(forecasts.forecast_text(cfg, found, source))


@app.command("plan", cls=Command)
def plan_cmd(
    config: Path | None = typer.Argument(
        None, help="YAML config (default: the built-in example fleet).", envvar="SMS_CONFIG"
    ),
    deadline: str = typer.Option(..., help="The deadline: 10m, 1h30m, 90s (simulated)."),
    vary: str = typer.Option(..., help=f"The field to size: {planning.FIELDS}."),
    delivered: str | None = typer.Option(
        None, help="Time P % of the messages delivered, such as 95% (default: every one settled)."
    ),
    confidence: float = typer.Option(
        95.0, min=50, max=99.9, help="Percent of the virtual runs that must meet it."
    ),
    count: int | None = typer.Option(
        None, help="Messages (default: the config's num_messages).", show_default=False
    ),
    replications: int = typer.Option(20, min=2, max=10_000, help="Virtual runs a value."),
    seed: int | None = typer.Option(None, help="Seed (the same seed, the same plan)."),
    verify: bool = typer.Option(
        False, "--verify", help="Run the answer through the simulation (compressed)."
    ),
) -> None:
    """Find the smallest value of one field (a profile's slots or copies, the account's
    rate) for which the fleet meets a deadline, from many virtual runs a value."""
    setup_logging("WARNING")
    try:
        cfg = forecasts.load_config(config, count)
        goal = planning.Goal(
            planning.parse_duration(deadline), planning.parse_share(delivered), confidence
        )
        effort = planning.effort_for(goal, replications, seed)
        forecasts.say_if_long(cfg)
        trials = planning.Trials(cfg, planning.knob(vary, cfg), goal, effort)
        trials.progress = lambda value, found: print(
            "  tried " + planning.tried_line(goal, value, found), file=sys.stderr, flush=True
        )
        answer = planning.smallest(trials)
    except SimError as exc:
        fail(PROG, str(exc), exc.exit_code)
    except ValidationError as exc:
        fail(PROG, describe(exc), EXIT_USAGE)
    print(planning.answer_text(trials, answer))
    if verify:
        chosen = trials.knob.write(cfg, answer.value)
        met = run_async(PROG, verification.verify(chosen, goal))
        print(verification.verdict_text(goal, met))


def main(argv: list[str] | None = None) -> None:
    run_cli(app, PROG, argv)
