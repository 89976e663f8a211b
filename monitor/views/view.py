"""How a report reaches the operator: the ``View`` protocol every output follows, and the
choice between the live dashboard and plain lines."""

from __future__ import annotations

import sys
from typing import Protocol, runtime_checkable

from monitor.figures.report import Report


class View(Protocol):
    def update(self, rep: Report) -> None: ...

    def finish(self, rep: Report) -> None: ...


@runtime_checkable
class Closable(Protocol):
    """A view holding the terminal (the live dashboard) releases it in ``close``."""

    def close(self) -> None: ...


def close_view(view: View) -> None:
    if isinstance(view, Closable):
        view.close()


def make_view(plain: bool, *, tty: bool | None = None) -> View:
    """The live dashboard when stderr is a terminal; plain key=value lines otherwise
    (docker logs, pipes, CI) or with --plain. ``tty`` overrides the detection."""
    from monitor.views.live import LiveView  # noqa: PLC0415 (rich loads only for a terminal)
    from monitor.views.plain import PlainView  # noqa: PLC0415

    if tty is None:
        tty = sys.stderr.isatty()
    return PlainView() if plain or not tty else LiveView()
