"""sms-sim: the whole simulation in one process, and resetting a run."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from common.cli import EXIT_USAGE, fail, run_async, settings_or_exit
from common.configfile import ConfigError
from common.connection import mask_url, server_client
from common.keys import RunKeys
from common.settings import RoleSettings, SimConfig, read_config_file
from common.stop import install_stop_handlers
from launcher.simulate import LauncherSettings, reset, simulate
from monitor.cli import make_view
from monitor.summary import Snapshot, summary

logger = logging.getLogger(__name__)
PROG = "sms-sim"
app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="SMS alert blast simulator on Redis Streams."
)


@app.command("run")
def run_cmd(
    config: Annotated[
        Path | None, typer.Argument(help="YAML config [default: the built-in example fleet].")
    ] = None,
    redis_url: Annotated[
        str | None, typer.Option(help="Use this Redis instead of the embedded one.")
    ] = None,
    run: Annotated[str | None, typer.Option(help="Run name [default: default].")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for content, delays, failures.")] = None,
    json_output: Annotated[
        bool | None, typer.Option("--json", help="Print the final summary as JSON on stdout.")
    ] = None,
    plain: Annotated[bool | None, typer.Option(help="One key=value line per report.")] = None,
    report: Annotated[
        Path | None, typer.Option(help="Write a self-contained HTML report here at the end.")
    ] = None,
) -> None:
    """Run producer, one sender per configured profile and the monitor in one process."""
    flags = {
        "config": config,
        "redis_url": redis_url,
        "run": run,
        "seed": seed,
        "json_output": json_output,
        "plain": plain,
        "report": report,
    }
    opts = settings_or_exit(PROG, LauncherSettings, flags)
    cfg = _config_or_exit(opts.config)
    if not cfg.senders:
        fail(
            PROG,
            f"{opts.config}: senders: the list is empty; sms-sim run needs at least one",
            EXIT_USAGE,
        )
    logger.info(
        "run %r: %d messages, %d senders, Redis %s",
        opts.run,
        cfg.num_messages,
        len(cfg.senders),
        mask_url(opts.redis_url),
    )
    snap = run_async(PROG, _simulate(cfg, opts))
    if snap is not None and opts.json_output:
        print(json.dumps(summary(snap)))


def _config_or_exit(path: Path | None) -> SimConfig:
    if path is None:
        return SimConfig()
    try:
        return read_config_file(path)
    except ConfigError as exc:
        fail(PROG, str(exc), EXIT_USAGE)


async def _simulate(cfg: SimConfig, opts: LauncherSettings) -> Snapshot | None:
    stop = asyncio.Event()
    install_stop_handlers(stop, PROG)
    view = make_view(opts.plain)
    return await simulate(cfg, opts, view, stop)


@app.command("reset")
def reset_cmd(
    run: Annotated[str | None, typer.Option(help="Run name [default: default].")] = None,
    redis_url: Annotated[str | None, typer.Option(help="Redis URL [env: REDIS_URL].")] = None,
) -> None:
    """Delete every key of a run."""
    opts = settings_or_exit(PROG, RoleSettings, {"run": run, "redis_url": redis_url})
    deleted = run_async(PROG, _reset(opts))
    print(f"run {opts.run!r}: deleted {deleted} key(s) on {mask_url(opts.server_url)}")


async def _reset(opts: RoleSettings) -> int:
    async with server_client(opts.server_url) as client:
        return await reset(client, RunKeys(opts.run))


def main() -> None:
    app(prog_name=PROG)
