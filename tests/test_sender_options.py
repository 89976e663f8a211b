"""Each sender option is declared once, on its ``SenderSettings`` field (issue 22).

A field marked ``ProfileFlag`` sets the sender's profile (``complete_profile``); a field
marked ``Flag`` is an option of ``sms-sender`` (``common.cli.with_flags``); a value given
on the command line or in the field's variable reaches the settings. The tests are
parametrised over the declarations, so a field added to the model is tested with them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import Field, ValidationError
from pydantic_settings import SettingsConfigDict
from typer.core import TyperOption
from typer.main import get_command

import sender.cli
from common.cli import settings_or_exit, with_flags
from common.model import Seconds, SenderProfile
from common.settings import (
    PROFILE_FLAGS,
    Flag,
    ProfileFlag,
    RoleSettings,
    SenderSettings,
    flag_fields,
)
from sender.profile import complete_profile
from tests.commands import Runner

FLAGS = flag_fields(SenderSettings)
# The fields with no flag of their own: shared options (--config, --run, --redis-url) that
# sms-sender declares itself, and settings read from the environment or the YAML only.
NOT_FLAGS = {
    "config",
    "run",
    "redis_url",
    "log_level",
    "redis_give_up",
    "redis_allow_eviction",
    "block",
    "profiles",
}
# The command's parameters that are not SenderSettings' flags.
OWN_PARAMS = {"version", "config", "run", "redis_url"}
# Values to try, in order, for a field: the first valid ones unlike those to avoid.
CANDIDATES: tuple[Any, ...] = (0.5, 3, 2, 0.25, "gw-x", "gw-y")
# A profile with a value of its own for every field a sender flag sets.
FULL = SenderProfile(mean_time=0.2, failure_rate=0.1, shape=4.0, concurrency=6, max_attempts=7)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No SENDER_* or shared variable, and no .env (the working directory is empty)."""
    for name in SenderSettings.model_fields:
        monkeypatch.delenv(SenderSettings.env_name(name), raising=False)
    monkeypatch.chdir(tmp_path)


def a_value(name: str, unlike: tuple[Any, ...] = ()) -> Any:
    """A valid value of ``SenderSettings.name``, other than its default and ``unlike``."""
    default = SenderSettings.model_fields[name].default
    for candidate in CANDIDATES:
        try:
            value = getattr(SenderSettings.model_validate({name: candidate}), name)
        except ValidationError:
            continue
        if value != default and value not in unlike:
            return value
    raise AssertionError(f"no value to try for {name}: add one to CANDIDATES")


def dashed(name: str) -> str:
    return "--" + name.replace("_", "-")


# ---- profile flags ---------------------------------------------------------------------


def test_profile_flags_are_declared_on_the_profile_fields() -> None:
    """Every SenderSettings field named as a profile field is a ProfileFlag (else it would
    be accepted and ignored), and every ProfileFlag names a profile field."""
    assert {"mean_time", "failure_rate", "shape", "concurrency", "max_attempts"} <= set(
        PROFILE_FLAGS
    )
    assert set(PROFILE_FLAGS) == set(SenderSettings.model_fields) & set(SenderProfile.model_fields)
    assert all(isinstance(FLAGS[name], ProfileFlag) for name in PROFILE_FLAGS)


@pytest.mark.parametrize("name", [n for n, f in PROFILE_FLAGS.items() if f.over_profile])
def test_a_profile_flag_wins_over_the_profile(name: str) -> None:
    value = a_value(name, unlike=(getattr(FULL, name),))
    done = complete_profile(FULL, SenderSettings.model_validate({name: value}))
    assert done.model_dump() == {**FULL.model_dump(), name: value}


@pytest.mark.parametrize("name", [n for n, f in PROFILE_FLAGS.items() if not f.over_profile])
def test_a_filling_profile_flag_sets_only_a_profile_without_its_own(name: str) -> None:
    value = a_value(name, unlike=(getattr(FULL, name),))
    settings = SenderSettings.model_validate({name: value})
    assert complete_profile(FULL, settings) == FULL
    gap = FULL.model_copy(update={name: None})
    assert complete_profile(gap, settings).model_dump() == {**FULL.model_dump(), name: value}


def test_no_flag_leaves_the_profile_as_it_is() -> None:
    assert complete_profile(FULL, SenderSettings()) == FULL


# ---- sms-sender's options --------------------------------------------------------------


def options() -> dict[str, TyperOption]:
    params = get_command(sender.cli.app).params
    return {p.name: p for p in params if isinstance(p, TyperOption) and p.name is not None}


def test_every_field_is_a_flag_or_set_otherwise() -> None:
    """A new SenderSettings field is either a Flag or listed here as deliberately not."""
    assert set(SenderSettings.model_fields) == set(FLAGS) | NOT_FLAGS
    assert not set(FLAGS) & NOT_FLAGS
    assert set(options()) == set(FLAGS) | OWN_PARAMS


@pytest.mark.parametrize("name", FLAGS)
def test_every_flag_is_an_option_made_from_its_field(name: str) -> None:
    option = options()[name]
    info = SenderSettings.model_fields[name]
    assert option.opts == [dashed(name)]
    assert option.envvar == SenderSettings.env_name(name)
    assert option.help == info.description
    assert option.default == info.default


@pytest.fixture
def loaded(monkeypatch: pytest.MonkeyPatch) -> list[SenderSettings]:
    """sms-sender's ``main`` runs up to its settings and serves nothing: they land here."""
    seen: list[SenderSettings] = []

    def spy(prog: str, cls: type[SenderSettings], flags: dict[str, Any]) -> SenderSettings:
        seen.append(settings_or_exit(prog, cls, flags))
        return seen[-1]

    def no_run(prog: str, main: Any) -> None:
        main.close()

    monkeypatch.setattr(sender.cli, "settings_or_exit", spy)
    monkeypatch.setattr(sender.cli, "run_async", no_run)
    return seen


@pytest.mark.parametrize("name", FLAGS)
def test_a_flag_reaches_the_settings(
    name: str, runner: Runner, loaded: list[SenderSettings]
) -> None:
    value = a_value(name)
    result = runner(sender.cli.main, [dashed(name), str(value)])
    assert result.exit_code == 0, result.output
    assert getattr(loaded[0], name) == value


@pytest.mark.parametrize("name", FLAGS)
def test_a_variable_reaches_the_settings_and_a_flag_wins_over_it(
    name: str, runner: Runner, loaded: list[SenderSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    from_env = a_value(name)
    from_flag = a_value(name, unlike=(from_env,))
    monkeypatch.setenv(SenderSettings.env_name(name), str(from_env))
    assert runner(sender.cli.main, []).exit_code == 0
    assert runner(sender.cli.main, [dashed(name), str(from_flag)]).exit_code == 0
    assert [getattr(settings, name) for settings in loaded] == [from_env, from_flag]


# ---- with_flags itself -----------------------------------------------------------------


class Toy(RoleSettings):
    model_config = SettingsConfigDict(env_prefix="TOY_")

    speed: Annotated[Seconds | None, Flag()] = Field(default=None)


def test_with_flags_needs_a_description_and_somewhere_to_put_the_values() -> None:
    def no_flags(version: bool = False) -> None: ...

    def flags(**given: Any) -> None: ...

    with pytest.raises(TypeError, match=r"\*\*flags"):
        with_flags(SenderSettings)(no_flags)
    with pytest.raises(TypeError, match="description"):
        with_flags(Toy)(flags)


@pytest.mark.parametrize("name", ["gw\n1", "gw\t1", "gw\x1b[31m", ""])
def test_a_name_that_would_break_a_line_is_refused(runner: Runner, name: str) -> None:
    """Outcomes and plain report lines carry the sender's name: a newline, a tab or an
    escape in it would split or forge them (issue 24); exit 2, one line."""
    done = runner(sender.cli.main, ["--name", name, "--redis-url", "redis://127.0.0.1:1/0"])
    assert done.exit_code == 2
    assert done.error.startswith("sms-sender: error: name:")
