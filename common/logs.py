"""Logging, set up once by each command-line entry point. Everything goes to stderr."""

from __future__ import annotations

import logging
import os
import sys

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(level: str | None = None) -> None:
    """Configure the root logger for stderr; LOG_LEVEL (or ``level``) picks the level."""
    chosen = (level or os.environ.get("LOG_LEVEL") or "INFO").upper()
    logging.basicConfig(
        level=chosen, format=FORMAT, datefmt="%H:%M:%S", stream=sys.stderr, force=True
    )
