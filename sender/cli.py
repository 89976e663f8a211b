"""sms-sender: one simulated gateway serving a run."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from common.cli import run_async, settings_or_exit
from common.connection import server_client
from common.settings import SenderSettings
from common.stop import install_stop_handlers
from sender.worker import Sender

PROG = "sms-sender"
app = typer.Typer(add_completion=False, help="Send a run's messages as one simulated gateway.")


@app.command()
def sender(
    config: Annotated[Path | None, typer.Option(help="YAML config (senders, shape).")] = None,
    mean_time: Annotated[float | None, typer.Option(help="Mean seconds per attempt.")] = None,
    failure_rate: Annotated[float | None, typer.Option(help="Chance an attempt fails.")] = None,
    shape: Annotated[float | None, typer.Option(help="Gamma shape [default: 10].")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Send slots [default: 1].")] = None,
    max_attempts: Annotated[
        int | None, typer.Option(help="Abandon a message after N attempts [default: never].")
    ] = None,
    claim_idle: Annotated[
        float | None, typer.Option(help="Take over messages idle this long [default: 10].")
    ] = None,
    grace: Annotated[
        float | None, typer.Option(help="Seconds to finish in-flight work on stop [default: 5].")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Consumer name [default: host-pid].")] = None,
    run: Annotated[str | None, typer.Option(help="Run name [default: default].")] = None,
    redis_url: Annotated[str | None, typer.Option(help="Redis URL [env: REDIS_URL].")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for delays and failures.")] = None,
) -> None:
    """Take messages from the run's consumer group and "send" them until the run is done.

    Without --mean-time and --failure-rate, the sender claims the next profile of the
    config's ``senders`` list.
    """
    flags = {
        "config": config,
        "mean_time": mean_time,
        "failure_rate": failure_rate,
        "shape": shape,
        "concurrency": concurrency,
        "max_attempts": max_attempts,
        "claim_idle": claim_idle,
        "grace": grace,
        "name": name,
        "run": run,
        "redis_url": redis_url,
        "seed": seed,
    }
    settings = settings_or_exit(PROG, SenderSettings, flags)
    run_async(PROG, _main(settings))


async def _main(settings: SenderSettings) -> None:
    stop = asyncio.Event()
    install_stop_handlers(stop, PROG)
    async with server_client(settings.server_url) as client:
        await Sender(client, settings, stop).run()


def main() -> None:
    app(prog_name=PROG)
