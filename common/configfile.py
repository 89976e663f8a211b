"""Reading the YAML config file, and turning any configuration error into one line."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from common.errors import ConfigError
from common.target import mask_url

MAX_CONFIG_BYTES = 1 << 20  # a config is a few hundred bytes; refuse what cannot be one


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last)."""


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """The top-level mapping of a YAML file (empty file: empty mapping)."""
    data = _parse(path, _read_text(path))
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of option: value")
    return data


def _read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"{path}: {size:,} bytes is too large for a config file "
                f"(at most {MAX_CONFIG_BYTES:,})"
            )
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8"
        ) from None


def _parse(path: Path, text: str) -> Any:
    """The YAML document of ``path``; ConfigError for anything a config cannot be,
    however hostile (nesting too deep for the parser, a number too long to read)."""
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: malformed YAML{_where(exc)}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a config") from None
    except ValueError as exc:  # an integer of more digits than Python converts
        if "digits" in str(exc):
            limit = sys.get_int_max_str_digits()
            raise ConfigError(f"{path}: a number too long to read (over {limit} digits)") from None
        raise ConfigError(f"{path}: a value that cannot be read: {exc}") from None


def _where(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or ""
    if mark is None:
        return ""
    return f" at line {mark.line + 1}, column {mark.column + 1}: {problem}".rstrip(": ")


def describe(exc: ValidationError) -> str:
    """The first validation error as ``field: problem (got value)``. A key missing where
    an unknown key stands that is close to it is the unknown key's error, with the name
    meant: ``senders.0.mean_tim: unknown option (did you mean 'mean_time'?)``."""
    errors = exc.errors()
    err = _misspelt(errors) or errors[0]
    field = ".".join(str(part) for part in err["loc"])
    message = str(err["msg"]).removeprefix("Value error, ")
    if not field:
        return message
    if err["type"] == "extra_forbidden":
        meant = _meant(exc, errors, err["loc"])
        return f"{field}: unknown option" + (f" (did you mean {meant!r}?)" if meant else "")
    got = err.get("input")
    if isinstance(got, str) and "://" in got:
        got = mask_url(got)  # a URL given with its password: never shown
    suffix = f" (got {_short(got)})" if got is not None and not isinstance(got, dict | list) else ""
    return f"{field}: {message}{suffix}"


def _misspelt(errors: list[ErrorDetails]) -> ErrorDetails | None:
    """The first unknown key close to a key missing beside it (``mean_tim`` where
    ``mean_time`` is required), which the missing key's error would hide."""
    missing = {tuple(e["loc"]) for e in errors if e["type"] == "missing" and e["loc"]}
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] != "extra_forbidden" or not loc:
            continue
        wanted = [str(m[-1]) for m in missing if m[:-1] == loc[:-1]]
        if difflib.get_close_matches(str(loc[-1]), wanted, n=1):
            return err
    return None


def _meant(exc: ValidationError, errors: list[ErrorDetails], loc: tuple[Any, ...]) -> str | None:
    """The known key closest to the unknown key at ``loc``: among the keys missing beside
    it, else among the keys of the model that refused it (found by the error's title)."""
    *parent, key = loc
    names = [
        str(e["loc"][-1]) for e in errors if e["type"] == "missing" and [*e["loc"][:-1]] == parent
    ]
    names = names or _keys_at(_model_named(exc.title), parent)
    close = difflib.get_close_matches(str(key), names, n=1)
    return close[0] if close else None


def _model_named(title: str) -> type[BaseModel] | None:
    """The project's model of that name (a ValidationError names its model only so)."""
    found: list[type[BaseModel]] = []
    todo: list[type[BaseModel]] = [BaseModel]
    while todo:
        model = todo.pop()
        for sub in model.__subclasses__():
            todo.append(sub)
            if sub.__name__ == title and sub.__module__.startswith("common."):
                found.append(sub)
    return found[0] if len(found) == 1 else None


def _keys_at(model: type[BaseModel] | None, path: list[Any]) -> list[str]:
    """The keys a config may write at ``path`` (field names, or their aliases) inside
    ``model``; [] when the path leads to no model."""
    for part in path:
        if model is None:
            return []
        if isinstance(part, int):
            continue  # an item of a list: the list's model holds on
        info = model.model_fields.get(str(part))
        model = _model_in(info.annotation) if info is not None else None
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model an annotation holds: ``M``, ``M | None``, ``list[M]``, ``Annotated[M, ...]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        if (found := _model_in(arg)) is not None:
            return found
    return None


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
