"""sms-sender: one simulated gateway serving a run."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import typer

from common.cli import (
    config_option,
    given,
    redis_option,
    run_async,
    run_cli,
    run_option,
    settings_or_exit,
    version_option,
    with_flags,
)
from common.connection import client_for
from common.settings import SenderSettings
from common.stop import install_stop_handlers
from sender.profile import default_name
from sender.station import serve_fleet

PROG = "sms-sender"
app = typer.Typer(add_completion=False, help="Send a run's messages as one simulated gateway.")


@app.command()
@with_flags(SenderSettings)
def sender(
    ctx: typer.Context,
    version: bool = version_option(),
    config: Path | None = config_option("senders and shape"),
    run: str = run_option(),
    redis_url: str | None = redis_option(),
    **flags: Any,  # SenderSettings' flags (common.settings.Flag), read through ctx
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
    async with client_for(target, "sender", settings.run) as client:
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
