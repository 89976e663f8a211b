"""Run docker-compose.yml's services as local processes (no Docker engine needed).

Each service becomes the command its container would run: the entrypoint (a console
script of this project, taken from the test's venv) plus the service's ``command``, with
the service's environment as Compose would build it (values as written; a variable
listed without a value is passed through from the "shell" given, or left unset). The only
rewrites: the Redis host in ``REDIS_URL`` (to the test server) and the container paths of
bind mounts (to the host files, or to a stand-in the test chooses).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import yaml

from tests.processes import Role, clean_env
from tests.support import ROOT

COMPOSE_FILE = ROOT / "docker-compose.yml"
VENV_BIN = Path(sys.executable).parent


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The compose file as data (YAML anchors and merge keys resolved)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path} is not a mapping"
    return cast(dict[str, Any], data)


def as_argv(value: Any) -> list[str]:
    """An entrypoint or command, list or shell-style string, as an argument list."""
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    return [str(v) for v in value]


def service_env(service: Mapping[str, Any], shell: Mapping[str, str]) -> dict[str, str]:
    """The service's environment as Compose builds it; pass-through values come from ``shell``."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, None) for item in raw)
    env: dict[str, str] = {}
    for name, value in raw.items():
        if value is None:
            if name in shell:
                env[name] = shell[name]
        else:
            env[name] = str(value)
    return env


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool


def bind_mounts(service: Mapping[str, Any]) -> list[Mount]:
    """The service's bind mounts (short ``src:dst[:ro]`` or long syntax)."""
    mounts = []
    for item in service.get("volumes") or []:
        if isinstance(item, str):
            parts = item.split(":")
            if not parts[0].startswith((".", "/")):
                continue  # a named volume
            mounts.append(Mount(parts[0], parts[1], len(parts) > 2 and "ro" in parts[2]))
        elif item.get("type") == "bind":
            mounts.append(Mount(item["source"], item["target"], bool(item.get("read_only"))))
    return mounts


def rewrite_redis_host(url: str, server_url: str) -> str:
    """``url`` with its host and port replaced by those of ``server_url``."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = urlsplit(server_url).netloc
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{netloc}" if userinfo else netloc))


def local_env(
    service: Mapping[str, Any],
    shell: Mapping[str, str],
    server_url: str,
    files: Mapping[str, Path],
) -> dict[str, str]:
    """The process environment for a service: the machine's environment without any role
    settings, plus the service's environment with the Redis host and mount paths mapped.

    ``files`` maps a bind mount's container path to the host file the process should see
    (default: the mount's own source, relative to the compose file)."""
    env = clean_env()
    wanted = service_env(service, shell)
    mounted = {
        m.target: files.get(m.target, (COMPOSE_FILE.parent / m.source).resolve())
        for m in bind_mounts(service)
    }
    for name, value in wanted.items():
        if name == "REDIS_URL":
            env[name] = rewrite_redis_host(value, server_url)
        elif value in mounted:
            env[name] = str(mounted[value])
        else:
            env[name] = value
    return env


def local_argv(service: Mapping[str, Any], extra: list[str] | None = None) -> list[str]:
    """What the container would execute, with the entrypoint taken from this venv."""
    entry = as_argv(service.get("entrypoint"))
    assert entry, "every role service names its console script as entrypoint"
    command = as_argv(service.get("command")) if extra is None else extra
    script = VENV_BIN / entry[0]
    assert script.exists(), f"console script {entry[0]} is not installed in {VENV_BIN}"
    return [str(script), *entry[1:], *command]


def start_service(
    name: str,
    service: Mapping[str, Any],
    env: Mapping[str, str],
    logs: Path,
    extra: list[str] | None = None,
) -> Role:
    """The service as a local process, its stdout and stderr in ``logs/<name>.log``."""
    return Role(name, local_argv(service, extra), env, logs, merge=True)
