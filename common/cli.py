"""What every command-line entry shares: option declarations made from the settings
models (so help shows each option's variable and default, defined once, in
``common.settings``; ``with_flags`` makes a command's options from the fields marked
``Flag``), one-line errors and exit codes, and running a role's coroutine.

A command passes on only the flags given on its command line (``given``): environment
variables, the ``.env`` file and the YAML file are read by ``load_settings``.

``run_cli`` tidies every command's help before it runs (``tidy_help``): a flag shows no
``<bool>``, docstrings read as prose (no reST ````literals````, no hard line breaks), and
an epilog lists the variables the command reads that no option of its sets (``LOG_LEVEL``,
``REDIS_GIVE_UP``, ...), made from the settings models like the options themselves.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import inspect
import logging
import operator
import re
import sys
from collections.abc import Callable, Coroutine, Iterable
from importlib.metadata import version
from types import UnionType
from typing import Annotated, Any, NoReturn, TypeVar, Union, get_args, get_origin

import typer
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticUndefined

# Typer vendors click (typer._click) and re-exports only BadParameter of its errors; the
# base of every usage error is needed here (uv.lock pins typer).
from typer._click.core import Context as ClickContext
from typer._click.exceptions import ClickException
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption
from typer.main import get_command

from common.configfile import describe
from common.errors import EXIT_SIGINT, EXIT_USAGE, SimError, translate
from common.logs import setup_logging
from common.settings import RoleSettings, flag_fields, load_settings
from common.stop import hand_over

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
        return asyncio.run(_handing_over(main))
    except Exception as exc:
        error = translate(exc)
        if isinstance(error, SimError):
            logger.debug("%s failed", prog, exc_info=exc)
            fail(prog, str(error), error.exit_code)
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            raise
        fail(prog, f"unexpected {type(exc).__name__}: {exc} (LOG_LEVEL=DEBUG shows where)", 1)


async def _handing_over(main: Coroutine[Any, Any, T]) -> T:
    try:
        return await main
    finally:
        hand_over()  # a stop signal's late copy must not kill what is left to do


def run_cli(app: typer.Typer, prog: str, argv: list[str] | None = None) -> NoReturn:
    """Run a typer app; usage errors (unknown flag, bad value) end with one line, exit 2."""
    command = get_command(app)  # what ``app(...)`` runs, made here to tidy its help first
    tidy_help(command)
    try:
        code = command.main(args=argv, prog_name=prog, standalone_mode=False)
    except ClickException as exc:
        fail(prog, " ".join(exc.format_message().split()), exc.exit_code)
    except typer.Abort:
        raise SystemExit(EXIT_SIGINT) from None
    raise SystemExit(code if isinstance(code, int) else 0)


# ---- help ------------------------------------------------------------------------------

# The fields that say which server, run and file: a command that reads them has an option
# for each, and one without the option does not use them (``sms-sim runs`` names no run).
_SELECTORS = frozenset({"redis_url", "run", "config"})
# What a variable is for when its field has no ``description`` (common.settings); the
# tests hold every variable an epilog lists to having one or the other.
MEANINGS = {
    "log_level": "DEBUG (tracebacks too), INFO or WARNING",
    "redis_give_up": "seconds to ride out a Redis outage",
    "redis_allow_eviction": "1: accept a server that may evict keys",
    "batch_size": "messages enqueued in one batch",
    "invalid_fraction": "share of undeliverable numbers",
    "report_period": "seconds between reports",
    "keep_results": "1: keep the results stream (no trimming)",
}
EPILOG_HEAD = "Also read from the environment (or .env), with no option here:"
_PACKAGES = ("common.", "producer.", "sender.", "monitor.", "launcher.")
_READS = "__sms_reads__"
_LITERAL = re.compile(r"``([^`]+)``")


class Command(TyperCommand):
    """A command whose usage line writes a required argument ``RUN`` (typer writes
    ``{run}``, which reads like a key's hash tag), an optional one ``[CONFIG]``."""

    def collect_usage_pieces(self, ctx: ClickContext) -> list[str]:
        return [_unbraced(piece) for piece in super().collect_usage_pieces(ctx)]


def _unbraced(piece: str) -> str:
    if piece.startswith("{") and piece.endswith("}"):
        return piece[1:-1]
    return piece


def reads(*models: type[RoleSettings], ignoring: Iterable[str] = ()) -> Callable[[F], F]:
    """A command's decorator (under ``@app.command()``): the settings models it reads,
    when its options do not tell (``sms-sim run`` reads the senders' variables and has
    no sender option); ``ignoring``: fields of them it does not use."""

    def mark(command: F) -> F:
        setattr(command, _READS, (models, frozenset(ignoring)))
        return command

    return mark


def tidy_help(command: Any) -> None:
    """Tidy the help of ``command`` (a click command or group, as typer made it) and of
    its subcommands: no ``<bool>`` beside a flag, arguments named in capitals, help text
    as prose, and an epilog listing the variables read that no option sets."""
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            tidy_help(sub)
    command.help = _prose(command.help)
    for param in command.get_params(typer.Context(command)):  # --help too
        if isinstance(param, TyperOption) and param.is_flag:
            param.metavar = ""  # typer shows <bool> for a flag, which takes no value
        elif isinstance(param, TyperArgument) and param.metavar is None and param.name:
            param.metavar = param.name.upper()
        if isinstance(param, TyperOption | TyperArgument):
            param.help = _prose(param.help)
    if command.epilog is None and command.callback is not None:
        command.epilog = environment_epilog(command) or None


def _prose(text: str | None) -> str | None:
    """Help text as rich renders it well: each paragraph on one line (typer keeps a
    docstring's line breaks after its first paragraph), no reST ````literal```` marks."""
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).partition("\f")[0].split("\n\n")
    return "\n\n".join(
        p if p.startswith("\b") else " ".join(_LITERAL.sub(r"\1", p).split()) for p in paragraphs
    )


def environment_epilog(command: Any) -> str:
    """The variables ``command`` reads that none of its options or arguments sets, each
    with its default and meaning, from the settings models (``reads``, else the models
    whose variables its options read); "" when there are none."""
    params = [p for p in command.params if isinstance(p, TyperOption | TyperArgument)]
    shown = {str(p.envvar) for p in params if p.envvar}
    declared = getattr(command.callback, _READS, None)
    if declared is not None:
        models, ignoring = declared
    else:
        options = {str(p.envvar) for p in params if isinstance(p, TyperOption) and p.envvar}
        models, ignoring = _models_reading(options), frozenset()
    rows: dict[str, str] = {}
    for model in models:
        for name, info in model.model_fields.items():
            env = model.env_name(name)
            if env in shown or env in rows or name in _SELECTORS or name in ignoring:
                continue
            if _scalar(info.annotation):
                rows[env] = _meaning(name, info.description)
    if not rows:
        return ""
    named = {env: _with_default(env, _field_of(models, env)) for env in rows}
    width = max(map(len, named.values()))
    lines = [f"{named[env].ljust(width)}  {meaning}".rstrip() for env, meaning in rows.items()]
    return "\n".join([EPILOG_HEAD, *lines])


def _models_reading(envvars: set[str]) -> list[type[RoleSettings]]:
    """The settings models one of whose own variables is among ``envvars``; else the
    shared model when one of its variables is (``sms-sim reset``, ``runs``)."""
    found = [
        model
        for model in _project_models(RoleSettings)
        if envvars & {model.env_name(f) for f in model.model_fields if f not in _SHARED}
    ]
    if found:
        return found
    shared = {RoleSettings.env_name(f) for f in _SHARED}
    return [RoleSettings] if envvars & shared else []


_SHARED = frozenset(RoleSettings.model_fields)


def _project_models(base: type[RoleSettings]) -> list[type[RoleSettings]]:
    found = []
    for sub in base.__subclasses__():
        if sub.__module__.startswith(_PACKAGES):
            found.append(sub)
        found += _project_models(sub)
    return found


def _field_of(models: Iterable[type[RoleSettings]], env: str) -> Any:
    return next(
        info
        for model in models
        for name, info in model.model_fields.items()
        if model.env_name(name) == env
    )


def _scalar(annotation: Any) -> bool:
    """A field a variable sets as one word (not a model or a list, which the YAML sets)."""
    bare = _bare(annotation)
    parts = get_args(bare) if get_origin(bare) in (Union, UnionType) else (bare,)
    return not any(
        (isinstance(part, type) and issubclass(part, BaseModel))
        or get_origin(part) in (list, dict, tuple)
        for part in parts
    )


def _meaning(name: str, description: str | None) -> str:
    text = (description or MEANINGS.get(name, "")).rstrip(".")
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        text = text[0].lower() + text[1:]
    return text


def _with_default(env: str, info: Any) -> str:
    default = info.default
    if default is None or default is PydanticUndefined:
        return env
    if isinstance(default, bool):
        return f"{env}={int(default)}"
    if isinstance(default, float):
        return f"{env}={default:g}"
    return f"{env}={default}"
