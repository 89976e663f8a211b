"""Issues 5, 12 and 25: the Compose stack, without a Docker engine.

- the structure of docker-compose.yml, the Dockerfile and .dockerignore: one build per
  image, plain logs (no tty), the Redis host port a variable, a Dockerfile any builder
  takes (no BuildKit-only syntax, no frontend fetched from a registry), two stages (no uv
  in the image, no fakeredis), base images pinned, Redis restarted and its data volume a
  variable;
- ``docker-compose`` (v1.29, CI installs it): ``config -q``, the port variable, the order
  in which it prepares images;
- a smoke test running each service's own command and environment as local processes on
  a throwaway redis-server, five senders with no explicit profile;
- profile claiming (sender.profile.resolve_profile) on fakeredis: one profile per claim,
  wrapping around, explicit flags winning.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import time
import tomllib
from pathlib import Path
from typing import Any, cast

import pytest
import redis
import yaml
from redis.asyncio import Redis

from common import keys as k
from common.keys import RunKeys
from common.model import SenderProfile
from common.settings import SenderSettings, read_config_file
from sender.profile import resolve_profile
from tests.compose_support import (
    COMPOSE_FILE,
    bind_mounts,
    load_compose,
    local_env,
    rewrite_redis_host,
    service_env,
    start_service,
)
from tests.processes import Role, stop_all
from tests.roles import produce_now
from tests.support import ROOT

ROLES = {"producer": "sms-producer", "sender": "sms-sender", "monitor": "sms-monitor"}
CONFIG_TARGET = "/config/config.yaml"
PORT_VARIABLE = "SMS_REDIS_PORT"
DATA_VARIABLE = "SMS_REDIS_DATA"
# An exact release and the digest of its index: the tag alone may move under a rebuild.
PINNED = r"(?P<tag>[\w.-]+)@sha256:[0-9a-f]{64}"
DEFAULT_HOST_PORT = 6380  # clear of a developer's own Redis on 6379
README_COMPOSE = re.compile(r"<!-- section: compose -->(.*?)<!-- section: ", re.S)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    found = compose["services"]
    assert isinstance(found, dict)
    return found


# --- structure -------------------------------------------------------------------------


def default_stack(services: dict[str, Any]) -> dict[str, Any]:
    """The services a plain `docker compose up` starts (those in no profile)."""
    return {name: svc for name, svc in services.items() if not svc.get("profiles")}


def test_compose_has_the_four_services_and_no_obsolete_version(compose: dict[str, Any]) -> None:
    assert set(default_stack(compose["services"])) == {"redis", "producer", "sender", "monitor"}
    assert "version" not in compose  # the Compose Specification format
    # No top-level `name:` either: docker-compose 1.29 refuses the key (its schema allows
    # only `x-` extensions beside services, networks, volumes, configs and secrets).
    assert "name" not in compose


def test_redis_is_7_with_aof_healthcheck_and_loopback_only_port(services: dict[str, Any]) -> None:
    redis_svc = services["redis"]
    pinned = re.fullmatch(rf"redis:{PINNED}", redis_svc["image"])
    assert pinned and re.fullmatch(r"7\.\d+\.\d+-alpine", pinned["tag"]), redis_svc["image"]
    command = " ".join(redis_svc["command"])
    assert re.search(r"--appendonly\s+yes", command)
    test = redis_svc["healthcheck"]["test"]
    assert test[0] in {"CMD", "CMD-SHELL"} and "redis-cli" in " ".join(test)
    assert "ping" in " ".join(test)
    assert [_interpolate(p, {}) for p in redis_svc["ports"]] == [
        f"127.0.0.1:{DEFAULT_HOST_PORT}:6379"
    ]
    assert any(str(v).endswith(":/data") for v in redis_svc.get("volumes", []))
    # Back after a crash or a daemon restart, with its runs; stopped, it stays stopped.
    assert redis_svc["restart"] == "unless-stopped"


def test_the_redis_data_volume_is_named_unless_a_folder_is_given(services: dict[str, Any]) -> None:
    (volume,) = services["redis"]["volumes"]
    assert _interpolate(volume, {}) == "redis-data:/data"
    assert _interpolate(volume, {DATA_VARIABLE: "/srv/sms-redis"}) == "/srv/sms-redis:/data"
    assert "redis-data" in load_compose()["volumes"]


@pytest.mark.parametrize("name", sorted(ROLES))
def test_roles_start_when_redis_is_healthy_and_talk_to_it_by_service_name(
    services: dict[str, Any], name: str
) -> None:
    svc = services[name]
    assert svc["depends_on"]["redis"]["condition"] == "service_healthy"
    assert svc["entrypoint"] == [ROLES[name]]
    assert not svc.get("command")  # nothing appended unless `docker compose run ... FLAGS`
    env = service_env(svc, shell={})
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert env["SMS_CONFIG"] == CONFIG_TARGET
    mounts = {m.target: m for m in bind_mounts(svc)}
    assert mounts[CONFIG_TARGET].source == "./config.yaml"
    assert mounts[CONFIG_TARGET].read_only
    assert "SMS_RUN" in svc["environment"]  # passed through: SMS_RUN=second docker compose up
    assert svc.get("restart", "no") == "no"  # one-shot: exit 0 ends it


def test_sender_is_scalable(services: dict[str, Any]) -> None:
    sender = services["sender"]
    assert "container_name" not in sender
    assert "ports" not in sender
    assert "hostname" not in sender  # replicas must differ: the sender name is host-pid
    # no explicit profile, so each replica claims the next one from config.yaml
    env = service_env(sender, shell={})
    assert "SENDER_MEAN_TIME" not in env and "SENDER_FAILURE_RATE" not in env


def test_no_service_has_a_tty_so_the_attached_stack_shows_plain_lines(
    services: dict[str, Any],
) -> None:
    # With a tty the monitor draws its live view, whose redraws overwrite the other
    # services' lines in `docker compose up` and fill `docker compose logs` with escape
    # codes; without one it writes the plain key=value lines the README promises.
    for name, svc in services.items():
        assert not svc.get("tty"), name
        assert not svc.get("stdin_open"), name


def test_the_readme_gives_the_monitor_live_view_as_a_run_command() -> None:
    section = _readme_compose_section()
    assert "docker compose run --rm monitor" in section  # `run` allocates a terminal


def test_only_redis_publishes_a_port_and_only_on_loopback(services: dict[str, Any]) -> None:
    published = [
        (name, _interpolate(p, {}))
        for name, svc in default_stack(services).items()
        for p in svc.get("ports", [])
    ]
    assert published == [("redis", f"127.0.0.1:{DEFAULT_HOST_PORT}:6379")]


def test_the_redis_host_port_is_a_variable_with_a_default(services: dict[str, Any]) -> None:
    (port,) = services["redis"]["ports"]
    assert _interpolate(port, {PORT_VARIABLE: "7001"}) == "127.0.0.1:7001:6379"
    assert _interpolate(port, {PORT_VARIABLE: ""}) == f"127.0.0.1:{DEFAULT_HOST_PORT}:6379"
    assert _interpolate(port, {"REDIS_PORT": "7001"}).split(":")[1] == str(DEFAULT_HOST_PORT)


def test_the_readme_names_the_port_variable_its_default_and_explicit_host_urls() -> None:
    section = _readme_compose_section()
    assert PORT_VARIABLE in section
    assert f"redis://127.0.0.1:{DEFAULT_HOST_PORT}/0" in section
    # Roles started from a host shell name their server: none of them has a default.
    commands = [
        line
        for block in re.findall(r"```sh\n(.*?)```", section, re.S)
        for line in block.splitlines()
    ]
    assert any("uv run sms-" in line for line in commands)
    for line in commands:
        if re.search(r"\buv run sms-(sender|producer|monitor|sim)\b", line):
            assert re.search(r"REDIS_URL=redis://|--redis-url", line), line
    # Where Redis keeps its files, and what names the project.
    assert DATA_VARIABLE in section and "COMPOSE_PROJECT_NAME" in section


def test_each_image_is_built_by_exactly_one_service_and_pulled_by_none(
    compose: dict[str, Any],
) -> None:
    services: dict[str, Any] = compose["services"]
    by_image: dict[str, list[str]] = {}
    for name, svc in services.items():
        by_image.setdefault(svc.get("image") or f"<project>-{name}", []).append(name)
    for image, users in by_image.items():
        builders = [name for name in users if "build" in services[name]]
        local = any(name in ROLES for name in users)
        # One build per image: Compose builds every service with `build:` on its own, and
        # two builds of one tag leave an untagged image behind and containers to recreate.
        assert len(builders) == (1 if local else 0), (image, builders)
        if not local:
            continue
        assert services[builders[0]]["build"] in (".", {"context": "."})
        # Compose v2 would otherwise look the image up in a registry first.
        assert all(services[name].get("pull_policy") == "never" for name in users), image
        # docker-compose 1.29 prepares images in the file's order (dependencies first) and
        # pulls a missing image for a service without `build:`: the builder comes first.
        assert users[0] == builders[0], (image, users)
    assert set(by_image["sms-sim:latest"]) == set(ROLES)


def test_the_mounted_config_is_the_seed_fleet_of_five() -> None:
    cfg = read_config_file(ROOT / "config.yaml")
    assert len({(p.mean_time, p.failure_rate) for p in cfg.senders or []}) == 5


def _dockerfile_stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuations joined, comments dropped), by stage."""
    stages: list[list[str]] = []
    for line in _joined_lines((ROOT / "Dockerfile").read_text(encoding="utf-8")):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("FROM "):
            stages.append([])
        assert stages, f"an instruction before the first FROM: {stripped}"
        stages[-1].append(stripped)
    return stages


def test_dockerfile_builds_in_one_stage_and_runs_in_another_without_uv() -> None:
    uv, build, runtime = _dockerfile_stages()
    assert re.fullmatch(r"FROM ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+ AS uv", uv[0])
    assert len(uv) == 1
    # The same Python twice, pinned: the venv's interpreter is the base image's own.
    python = re.fullmatch(rf"FROM python:{PINNED}( AS build)?", build[0])
    assert python and re.fullmatch(r"3\.11\.\d+-slim-bookworm", python["tag"]), build[0]
    assert build[0] == runtime[0] + " AS build"
    lock = (ROOT / "uv.lock").read_text(encoding="utf-8")
    assert f'requires-python = ">={python["tag"][:4]}"' in lock

    def index(lines: list[str], pattern: str) -> int:
        hits = [i for i, line in enumerate(lines) if re.search(pattern, line)]
        assert hits, f"no line matches {pattern!r}"
        return hits[0]

    # Build: dependencies first (a layer rebuilt only when the lock changes), then the code.
    assert index(build, r"^COPY --from=uv /uv ") < index(build, r"uv sync")
    lock_copy = index(build, r"^COPY .*pyproject\.toml.*uv\.lock")
    deps = index(build, r"uv sync --frozen --no-dev --no-install-project")
    code = index(build, r"^COPY .*\b(common|producer|sender|monitor|launcher)\b")
    project = index(build, r"uv sync --frozen --no-dev --no-editable(?!.*--no-install-project)")
    assert lock_copy < deps < code < project
    for line in build:  # the image leaves every extra out (fakeredis: `embedded`)
        assert not re.search(r"--(extra|all-extras)\b", line), line
    # Runtime: the venv and the config, nothing built here, no uv, a non-root numeric user.
    copies = [line for line in runtime if line.startswith(("COPY", "ADD"))]
    assert copies == ["COPY --from=build /app/.venv /app/.venv", "COPY config.yaml ./"]
    assert not any(re.search(r"--from=uv\b|\buvx? (sync|pip|run)\b", line) for line in runtime)
    (user,) = [line for line in runtime if line.startswith("USER ")]
    assert re.fullmatch(r"USER [1-9]\d{3,}:[1-9]\d{3,}", user), user
    assert any("PATH=/app/.venv/bin:$PATH" in line for line in runtime)
    for script in ("sms-sim", "sms-producer", "sms-sender", "sms-monitor"):
        assert script in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_fakeredis_is_an_extra_the_image_leaves_out_and_uv_run_installs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

    def named(requirements: list[str]) -> list[str]:
        return [r for r in requirements if re.match(r"fakeredis\b", r)]

    assert named(project["project"]["dependencies"]) == []
    assert named(project["project"]["optional-dependencies"]["embedded"]) == [
        "fakeredis[lua]>=2.26"
    ]
    # `uv run` syncs the dev group: `uv run sms-sim run` works without redis-server.
    assert named(project["dependency-groups"]["dev"]) == ["fakeredis[lua]>=2.26"]
    lock = (ROOT / "uv.lock").read_text(encoding="utf-8")
    assert 'provides-extras = ["embedded"]' in lock


def _joined_lines(text: str) -> list[str]:
    return text.replace("\\\n", " ").splitlines()


# Dockerfile features the legacy builder rejects ("... requires BuildKit").
BUILDKIT_ONLY = {
    r"^RUN\b.*--mount\b": "RUN --mount",
    r"^RUN\b.*--network\b": "RUN --network",
    r"^RUN\b.*--security\b": "RUN --security",
    r"^(COPY|ADD)\b.*--(chmod|link|parents|exclude|checksum|keep-git-dir)\b": "COPY/ADD option",
    r"<<-?\s*['\"]?\w+['\"]?\s*$": "heredoc",
}


def test_dockerfile_builds_with_any_builder_and_fetches_no_frontend() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    # A `# syntax=` parser directive makes every build fetch that frontend from a registry.
    assert not re.search(r"^#\s*syntax\s*=", text, re.M | re.I)
    for line in _joined_lines(text):
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        for pattern, feature in BUILDKIT_ONLY.items():
            assert not re.search(pattern, stripped, re.I), f"{feature}: {stripped}"


def _readme_compose_section() -> str:
    found = README_COMPOSE.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert found, "README.md has no compose section"
    return found.group(1)


def _interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable substitution: ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``."""

    def value(m: re.Match[str]) -> str:
        name, op, default = m.group(1), m.group(2), m.group(3) or ""
        if op == ":-" and not env.get(name):
            return default
        if op == "-" and name not in env:
            return default
        return env.get(name, "")

    done = re.sub(r"\$\{(\w+)(?:(:?-)([^}]*))?\}", value, text)
    assert "$" not in done, f"unsupported substitution in {text!r}"
    return done


def _ignored(patterns: list[str], path: str) -> bool:
    """Docker's rule: the last matching pattern wins; ``!`` re-includes."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        bare = pattern.lstrip("!")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(p, bare) for p in prefixes) or fnmatch.fnmatch(path, bare):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_the_build_context_to_what_the_image_needs() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for path in (".venv/bin/python", ".git/HEAD", ".env", "tests/conftest.py", "x/__pycache__"):
        assert _ignored(patterns, path), path
    for path in ("pyproject.toml", "uv.lock", "README.md", "sender/cli.py", "common/keys.py"):
        assert not _ignored(patterns, path), path


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_accepts_the_file() -> None:
    done = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def _docker_compose(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE_FILE), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_publishes_redis_on_the_variable_port() -> None:
    shell = {k: v for k, v in os.environ.items() if k != PORT_VARIABLE}
    default = yaml.safe_load(_docker_compose("config", env=shell))
    chosen = yaml.safe_load(_docker_compose("config", env={**shell, PORT_VARIABLE: "7001"}))

    def published(config: dict[str, Any]) -> list[str]:
        return [str(p) for p in config["services"]["redis"]["ports"]]

    assert published(default) == [f"127.0.0.1:{DEFAULT_HOST_PORT}:6379/tcp"]
    assert published(chosen) == ["127.0.0.1:7001:6379/tcp"]


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_prepares_the_image_builder_before_its_users() -> None:
    # `docker-compose up` ensures the images in this order; a service without `build:`
    # reached before the image exists would try to pull sms-sim:latest and fail.
    order = _docker_compose("config", "--services", env=dict(os.environ)).split()
    config = yaml.safe_load(_docker_compose("config", env=dict(os.environ)))
    services = config["services"]
    builders = [name for name in order if "build" in services[name]]
    assert len(builders) == 1
    users = [name for name in order if services[name].get("image") == "sms-sim:latest"]
    assert users[0] == builders[0] and set(users) == set(ROLES)


# --- the observe profile (issue 14): Prometheus scraping the monitor ------------------

METRICS_VARIABLE = "MONITOR_METRICS_PORT"
PROMETHEUS_CONFIG = "/etc/prometheus/prometheus.yml"


def test_the_observe_profile_adds_prometheus_scraping_the_monitor(
    services: dict[str, Any],
) -> None:
    prom = services["prometheus"]
    assert prom["profiles"] == ["observe"]  # not in the default stack
    pinned = re.fullmatch(rf"prom/prometheus:{PINNED}", prom["image"])  # a pinned release
    assert pinned and re.fullmatch(r"v\d+\.\d+\.\d+", pinned["tag"]), prom["image"]
    assert f"--config.file={PROMETHEUS_CONFIG}" in prom["command"]
    mounts = {m.target: m for m in bind_mounts(prom)}
    assert mounts[PROMETHEUS_CONFIG].source == "./observe/prometheus.yml"
    assert mounts[PROMETHEUS_CONFIG].read_only
    (port,) = prom["ports"]
    assert _interpolate(port, {}) == "127.0.0.1:9090:9090"  # loopback only
    assert _interpolate(port, {"SMS_PROMETHEUS_PORT": "9191"}) == "127.0.0.1:9191:9090"
    config = yaml.safe_load((ROOT / "observe" / "prometheus.yml").read_text(encoding="utf-8"))
    targets = [
        t for job in config["scrape_configs"] for c in job["static_configs"] for t in c["targets"]
    ]
    assert targets == ["monitor:9464"]
    # The monitor serves /metrics only when the variable is set: the default stack is unchanged.
    monitor = services["monitor"]
    assert METRICS_VARIABLE in monitor["environment"]
    assert METRICS_VARIABLE not in service_env(monitor, shell={})
    assert service_env(monitor, shell={METRICS_VARIABLE: "9464"})[METRICS_VARIABLE] == "9464"


def test_the_readme_gives_the_observe_profile_its_port() -> None:
    section = _readme_compose_section()
    assert f"{METRICS_VARIABLE}=9464 docker compose --profile observe up" in section


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_accepts_the_observe_profile() -> None:
    config = yaml.safe_load(_docker_compose("--profile", "observe", "config", env=dict(os.environ)))
    assert config["services"]["prometheus"]["profiles"] == ["observe"]


def test_redis_host_rewrite_keeps_credentials_and_database() -> None:
    assert (
        rewrite_redis_host("redis://:pw@redis:6379/3", "redis://127.0.0.1:5555/0")
        == "redis://:pw@127.0.0.1:5555/3"
    )


# --- smoke: the services as local processes -------------------------------------------


SMOKE_COUNT = 200
SMOKE_SENDERS = 5
SMOKE_DEADLINE = 60.0
# The seed's means divided by this: 10-40 ms, so the run lasts about a second. Much faster
# and the first senders finish it before a slower one's next look (every 0.2 s) finds it:
# that one leaves without a profile (the run is complete) and the claim count falls short.
SMOKE_SPEEDUP = 5


def _fast_config(tmp_path: Path) -> tuple[Path, list[SenderProfile]]:
    """The mounted config.yaml with the same failure rates and shorter means."""
    seed = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    for profile in seed["senders"]:
        profile["mean_time"] = round(profile["mean_time"] / SMOKE_SPEEDUP, 6)
    seed["report_period"] = 0.2
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(seed), encoding="utf-8")
    return path, read_config_file(path).senders or []


def _wait_all(roles: list[Role], deadline: float) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end and any(r.process.poll() is None for r in roles):
        time.sleep(0.05)
    late = [r.name for r in roles if r.process.poll() is None]
    assert not late, f"still running after {deadline}s: {late}\n" + "\n".join(
        f"--- {r.name}\n{r.output()[-2000:]}" for r in roles if r.name in late
    )


def _wait_logged(roles: list[Role], text: str, deadline: float) -> None:
    end = time.monotonic() + deadline
    while not all(text in role.output() for role in roles):
        assert time.monotonic() < end, f"not every role said {text!r}"
        time.sleep(0.05)


def test_compose_services_as_processes_run_five_profiles_to_completion(
    services: dict[str, Any], redis_url: str, run_name: str, tmp_path: Path
) -> None:
    config, profiles = _fast_config(tmp_path)
    files = {CONFIG_TARGET: config}
    shell = {"SMS_RUN": run_name, "PRODUCER_COUNT": str(SMOKE_COUNT)}
    logs = tmp_path / "logs"
    logs.mkdir()
    keys = RunKeys(run_name)
    client = redis.Redis.from_url(redis_url, decode_responses=True)

    def env(name: str) -> dict[str, str]:
        return local_env(services[name], shell, redis_url, files)

    roles: list[Role] = []
    try:
        # Compose starts them together once Redis is healthy (the test server already is).
        roles += [
            start_service(f"sender-{i}", services["sender"], env("sender"), logs)
            for i in range(1, SMOKE_SENDERS + 1)
        ]
        roles.append(start_service("monitor", services["monitor"], env("monitor"), logs))
        # Every sender up before the run exists: one that finds the run complete already
        # leaves without claiming a profile (issue 12), which would make this test racy.
        _wait_logged(roles, "waiting for run", SMOKE_DEADLINE)
        roles.append(start_service("producer", services["producer"], env("producer"), logs))
        _wait_all(roles, SMOKE_DEADLINE)
        for role in roles:
            assert role.process.returncode == 0, f"{role.name}:\n{role.output()[-3000:]}"

        meta = cast(dict[str, str], client.hgetall(keys.meta))
        assert int(meta[k.META_TOTAL]) == SMOKE_COUNT
        assert int(meta[k.META_DELIVERED]) == SMOKE_COUNT
        assert meta[k.META_DONE] == "1"
        assert int(meta[k.META_PROFILE_CLAIMS]) == SMOKE_SENDERS

        raw = cast(dict[str, str], client.hgetall(keys.senders))
        records = {name: json.loads(record) for name, record in raw.items()}
        print(f"\n{keys.senders}:")
        for name, record in sorted(records.items()):
            print(f"  {name}: {json.dumps(record, sort_keys=True)}")
        assert len(records) == SMOKE_SENDERS
        claimed = sorted((r["mean_time"], r["failure_rate"]) for r in records.values())
        expected = sorted((p.mean_time, p.failure_rate) for p in profiles)
        assert claimed == expected  # each of the five profiles exactly once
        assert sum(r["sent"] for r in records.values()) == SMOKE_COUNT
        assert all(r["status"] == "stopped" for r in records.values())

        # No tty, as in the attached stack: the monitor's lines are plain key=value lines.
        monitor = roles[SMOKE_SENDERS].output()
        assert "\x1b" not in monitor
        assert re.search(rf"^.*\bsent={SMOKE_COUNT}/{SMOKE_COUNT}\b.*$", monitor, re.M), monitor
    finally:
        stop_all(roles)
        client.delete(*keys.all())
        client.close()


# --- profile claiming ------------------------------------------------------------------

FLEET = [
    SenderProfile(mean_time=0.05, failure_rate=0.50),
    SenderProfile(mean_time=0.10, failure_rate=0.45),
    SenderProfile(mean_time=0.15, failure_rate=0.40),
    SenderProfile(mean_time=0.20, failure_rate=0.35),
    SenderProfile(mean_time=0.10, failure_rate=0.30),
]


@pytest.fixture
def no_sender_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SENDER_MEAN_TIME", "SENDER_FAILURE_RATE", "SENDER_SHAPE", "SMS_CONFIG"):
        monkeypatch.delenv(name, raising=False)


def _settings(run: str, **flags: Any) -> SenderSettings:
    return SenderSettings(run=run, profiles=FLEET, _env_file=None, **flags)  # type: ignore[call-arg]


def _pairs(profiles: list[SenderProfile]) -> list[tuple[float, float]]:
    return [(p.mean_time, p.failure_rate) for p in profiles]


@pytest.mark.usefixtures("no_sender_env")
async def test_replicas_claim_the_profiles_in_order_and_wrap_around(
    fake: Redis, keys: RunKeys
) -> None:
    await produce_now(fake, keys.run, 0)
    got = [await resolve_profile(fake, keys, _settings(keys.run)) for _ in range(7)]
    # claims 1-5 take profiles 1-5; claims 6 and 7 wrap around to profiles 1 and 2
    assert _pairs(got) == _pairs([*FLEET, FLEET[0], FLEET[1]])
    assert await fake.hget(keys.meta, k.META_PROFILE_CLAIMS) == "7"


@pytest.mark.usefixtures("no_sender_env")
async def test_explicit_flags_win_and_take_no_claim(fake: Redis, keys: RunKeys) -> None:
    await produce_now(fake, keys.run, 0)
    explicit = await resolve_profile(
        fake, keys, _settings(keys.run, mean_time=0.3, failure_rate=0.2)
    )
    assert (explicit.mean_time, explicit.failure_rate) == (0.3, 0.2)
    assert await fake.hget(keys.meta, k.META_PROFILE_CLAIMS) is None
    first = await resolve_profile(fake, keys, _settings(keys.run))
    assert _pairs([first]) == _pairs(FLEET[:1])  # the hand-started sender skipped no profile


@pytest.mark.usefixtures("no_sender_env")
async def test_one_explicit_flag_overrides_its_part_of_the_claimed_profile(
    fake: Redis, keys: RunKeys
) -> None:
    await produce_now(fake, keys.run, 0)
    await resolve_profile(fake, keys, _settings(keys.run))
    second = await resolve_profile(fake, keys, _settings(keys.run, failure_rate=0.05))
    assert (second.mean_time, second.failure_rate) == (FLEET[1].mean_time, 0.05)
    third = await resolve_profile(fake, keys, _settings(keys.run, mean_time=1.5))
    assert (third.mean_time, third.failure_rate) == (1.5, FLEET[2].failure_rate)


async def test_environment_profile_wins_like_flags(
    fake: Redis, keys: RunKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENDER_MEAN_TIME", "0.7")
    monkeypatch.setenv("SENDER_FAILURE_RATE", "0.1")
    got = await resolve_profile(fake, keys, _settings(keys.run))
    assert (got.mean_time, got.failure_rate) == (0.7, 0.1)
    assert await fake.hget(keys.meta, k.META_PROFILE_CLAIMS) is None


@pytest.mark.usefixtures("no_sender_env")
async def test_each_run_has_its_own_claim_counter(fake: Redis, keys: RunKeys) -> None:
    other = RunKeys(f"{keys.run}-second")
    await produce_now(fake, keys.run, 0)
    await produce_now(fake, other.run, 0)
    a = [await resolve_profile(fake, keys, _settings(keys.run)) for _ in range(2)]
    b = [await resolve_profile(fake, other, _settings(other.run)) for _ in range(2)]
    assert _pairs(a) == _pairs(b) == _pairs(FLEET[:2])
