"""What every command-line entry shares: option declarations made from the settings
models (so help shows each option's variable and default, defined once, in
``common.settings``; ``with_flags`` makes a command's options from the fields marked
``Flag``), one-line errors and exit codes, and running a role's coroutine.

A command passes on only the flags given on its command line (``given``): environment
variables, the ``.env`` file and the YAML file are read by ``load_settings``.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import inspect
import logging
import operator
import sys
from collections.abc import Callable, Coroutine
from importlib.metadata import version
from types import UnionType
from typing import Annotated, Any, NoReturn, TypeVar, Union, get_args, get_origin

import typer
from pydantic import ValidationError
from pydantic_core import PydanticUndefined

# Typer vendors click (typer._click) and re-exports only BadParameter of its errors; the
# base of every usage error is needed here (uv.lock pins typer).
from typer._click.exceptions import ClickException

from common.configfile import describe
from common.errors import EXIT_SIGINT, EXIT_USAGE, SimError, translate
from common.logs import setup_logging
from common.settings import RoleSettings, flag_fields, load_settings

logger = logging.getLogger(__name__)

S = TypeVar("S", bound=RoleSettings)
# A busy role allocates a few objects per attempt (timers, outcomes), nearly all freed by
# reference counting: collect cycles far less often than Python's default (700, 10, 10).
GC_THRESHOLDS = (50_000, 50, 100)
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def option(model: type[RoleSettings], field: str, help: str, *decls: str, **kw: Any) -> Any:
    """A typer option for ``model.field``: its default and variable come from the model."""
    info = model.model_fields[field]
    default = None if info.default is PydanticUndefined else info.default
    kw.setdefault("show_default", default is not None)
    return typer.Option(
        default, *decls, help=help, envvar=model.env_name(field), show_envvar=True, **kw
    )


def with_flags(model: type[RoleSettings]) -> Callable[[F], F]:
    """A typer command's decorator (under ``@app.command()``): one option per field of
    ``model`` marked ``Flag``, in the model's order, after the command's own parameters
    and in place of its ``**flags`` (where typer passes their values). Each is what
    ``option`` makes: ``--field-name``, the field's type, default and variable, its
    ``description`` as help. Typer reads a command's parameters with
    ``inspect.signature``, which returns the ``__signature__`` set here."""

    def add(command: F) -> F:
        signature = inspect.signature(command, eval_str=True)
        params = list(signature.parameters.values())
        if not params or params[-1].kind is not inspect.Parameter.VAR_KEYWORD:
            raise TypeError(f"{command.__name__}: needs **flags for {model.__name__}'s flags")
        own = params[:-1]
        made = [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=option(model, name, _help(model, name)),
                annotation=_bare(model.model_fields[name].annotation),
            )
            for name in flag_fields(model)
        ]
        if clash := {p.name for p in own} & {p.name for p in made}:
            raise TypeError(f"{command.__name__}: {sorted(clash)} declared twice")
        command.__signature__ = signature.replace(parameters=[*own, *made])  # type: ignore[attr-defined]
        return command

    return add


def _help(model: type[RoleSettings], name: str) -> str:
    description = model.model_fields[name].description
    if not description:
        raise TypeError(f"{model.__name__}.{name}: a flag needs a description (its help)")
    return description


def _bare(annotation: Any) -> Any:
    """``annotation`` without pydantic's constraints (``Annotated`` metadata, in a union
    too): the type typer reads, e.g. ``float | None`` for ``Seconds | None``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _bare(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return functools.reduce(operator.or_, map(_bare, get_args(annotation)))
    return annotation


def config_option(uses: str) -> Any:
    return option(RoleSettings, "config", f"YAML config file (this role reads its {uses}).")


def run_option() -> Any:
    return option(RoleSettings, "run", "Run name: every key of a run is sms:{RUN}:...")


def redis_option(what: str = "Redis server URL, e.g. redis://127.0.0.1:6379/0.") -> Any:
    return option(RoleSettings, "redis_url", what)


def version_option() -> Any:
    """``--version``: print the installed version and exit."""

    def show(value: bool) -> None:
        if value:
            print(f"sms-sim {version('sms-sim')}")
            raise typer.Exit

    return typer.Option(
        False, "--version", help="Show the version and exit.", callback=show, is_eager=True
    )


def given(ctx: typer.Context) -> dict[str, Any]:
    """The parameters given on the command line (not defaults, not the environment)."""
    return {
        name: value
        for name, value in ctx.params.items()
        if (source := ctx.get_parameter_source(name)) is not None and source.name == "COMMANDLINE"
    }


def fail(prog: str, message: str, code: int) -> NoReturn:
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def settings_or_exit(prog: str, cls: type[S], flags: dict[str, Any], **kw: Any) -> S:
    """Load settings, or exit 2 with one line naming the field and the problem."""
    try:
        settings = load_settings(cls, flags, **kw)
    except SimError as exc:
        fail(prog, str(exc), exc.exit_code)
    except ValidationError as exc:
        fail(prog, describe(exc), EXIT_USAGE)
    setup_logging(settings.log_level)
    return settings


def run_async(prog: str, main: Coroutine[Any, Any, T]) -> T:
    """Run a role's main coroutine; every failure ends with one line (and its exit code).
    With ``LOG_LEVEL=DEBUG`` the traceback of an unexpected error is shown too."""
    gc.freeze()  # what start-up made lives as long as the process: never scan it again
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        return asyncio.run(main)
    except Exception as exc:
        error = translate(exc)
        if isinstance(error, SimError):
            logger.debug("%s failed", prog, exc_info=exc)
            fail(prog, str(error), error.exit_code)
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            raise
        fail(prog, f"unexpected {type(exc).__name__}: {exc} (LOG_LEVEL=DEBUG shows where)", 1)


def run_cli(app: typer.Typer, prog: str, argv: list[str] | None = None) -> NoReturn:
    """Run a typer app; usage errors (unknown flag, bad value) end with one line, exit 2."""
    try:
        code = app(args=argv, prog_name=prog, standalone_mode=False)
    except ClickException as exc:
        fail(prog, " ".join(exc.format_message().split()), exc.exit_code)
    except typer.Abort:
        raise SystemExit(EXIT_SIGINT) from None
    raise SystemExit(code if isinstance(code, int) else 0)
