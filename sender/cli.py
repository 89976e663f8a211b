"""sms-sender: one simulated gateway serving a run."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from common.cli import (
    config_option,
    given,
    option,
    redis_option,
    run_async,
    run_cli,
    run_option,
    settings_or_exit,
    version_option,
)
from common.connection import client_for
from common.settings import SenderSettings
from common.stop import install_stop_handlers
from sender.profile import default_name
from sender.station import serve_fleet

PROG = "sms-sender"
app = typer.Typer(add_completion=False, help="Send a run's messages as one simulated gateway.")
S = SenderSettings


@app.command()
def sender(
    ctx: typer.Context,
    version: bool = version_option(),
    config: Path | None = config_option("senders and shape"),
    mean_time: float | None = option(S, "mean_time", "Mean seconds per attempt."),
    failure_rate: float | None = option(S, "failure_rate", "Chance an attempt fails."),
    shape: float = option(S, "shape", "Gamma shape of the delay."),
    concurrency: int | None = option(
        S, "concurrency", "Send slots (default: the profile's, else 1)."
    ),
    max_attempts: int | None = option(
        S, "max_attempts", "Abandon a message after N attempts (default: never)."
    ),
    claim_idle: float = option(S, "claim_idle", "Take over messages idle this long (s)."),
    grace: float = option(S, "grace", "Seconds to finish in-flight work on stop."),
    name: str | None = option(S, "name", "Sender name (default: host-pid; NAME-N for several)."),
    gateways: int = option(
        S, "gateways", "Senders this process serves, each claiming the config's next profile."
    ),
    run: str = run_option(),
    redis_url: str | None = redis_option(),
    seed: int | None = option(S, "seed", "Seed for delays and failures."),
) -> None:
    """Take messages from the run's consumer group and "send" them until the run is done.

    Without --mean-time and --failure-rate, the sender claims the next profile of the
    config's ``senders`` list; with --gateways N, N senders in this process do, sharing
    its Redis round trips.
    """
    settings = settings_or_exit(PROG, SenderSettings, given(ctx))
    run_async(PROG, _main(settings))


async def _main(settings: SenderSettings) -> None:
    stop = asyncio.Event()
    install_stop_handlers(stop, PROG)
    target = settings.target
    async with client_for(target, "sender") as client:
        await serve_fleet(client, fleet(settings), stop, name=settings.name)


def fleet(settings: SenderSettings) -> list[tuple[SenderSettings, None]]:
    """``--gateways N`` senders, named NAME-1..N (NAME alone for one), each seeded
    ``seed + n`` when seeded; their profiles are claimed when the run is there."""
    if settings.gateways == 1:
        return [(settings, None)]
    prefix = settings.name or default_name()
    return [
        (
            settings.model_copy(
                update={
                    "name": f"{prefix}-{n}",
                    "seed": None if settings.seed is None else settings.seed + n,
                }
            ),
            None,
        )
        for n in range(1, settings.gateways + 1)
    ]


def main(argv: list[str] | None = None) -> None:
    run_cli(app, PROG, argv)
