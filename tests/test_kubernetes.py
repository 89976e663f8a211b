"""Issue 26: the Kubernetes manifests (deploy/kubernetes) agree with the code.

Every variant (deploy/kubernetes and each folder of deploy/kubernetes/variants) is
rendered with ``kubectl kustomize``, as a user applies it, and the rendered objects are
held to the code, so a rename there breaks this test, not the deployment:

- the KEDA ScaledObject's stream and group are ``RunKeys(run).outbox`` and ``keys.GROUP``
  (common/keys.py) for the run the roles get (SMS_RUN), and follow SMS_RUN when it changes;
- every variable a role container gets is one its settings model reads, with a value it
  accepts (the model is built from the container's environment);
- the senders' termination grace outlasts their SENDER_GRACE, with room to hand back;
- the monitor's container port, Service, probes and scrape annotations are its
  MONITOR_METRICS_PORT; the HPA variant's metric is one the monitor exports;
- the roles run the image and commands docker-compose.yml runs, Redis the same image;
- the autoscaler's maximum is the mounted fleet's size, and its lag per replica brings the
  whole fleet up for the backlogs the README works out;
- every pod meets the restricted Pod Security Standard and has requests and limits.

Without kubectl (with kustomize v5) the tests skip, unless ``SMS_REQUIRE_KUBECTL=1`` (CI),
where they fail. ``SMS_KUBECTL`` names the binary when it is not on the PATH.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import pytest
import yaml

from common import keys
from common.keys import RunKeys
from common.model import SimConfig
from common.settings import (
    MonitorSettings,
    ProducerSettings,
    RoleSettings,
    SenderSettings,
    read_config_file,
)
from monitor.views.metrics import names as metric_names
from producer.main import _chunk_size
from tests.compose_support import load_compose, service_env
from tests.support import ROOT

DEPLOY = ROOT / "deploy" / "kubernetes"
VARIANTS = {"default": DEPLOY} | {
    path.name: path for path in sorted((DEPLOY / "variants").iterdir()) if path.is_dir()
}
ROLES: dict[str, type[RoleSettings]] = {
    "producer": ProducerSettings,
    "sender": SenderSettings,
    "monitor": MonitorSettings,
}
WORKLOADS = {"Deployment", "StatefulSet", "Job"}
# Where a redis-streams (or redis-cluster-streams) scaler finds its Redis and credentials,
# in its trigger's metadata or its TriggerAuthentication.
KEDA_CONNECTION = (
    "address",
    "addresses",
    "host",
    "hosts",
    "port",
    "ports",
    "username",
    "password",
    "sentinelUsername",
    "sentinelPassword",
    "sentinelMaster",
)
# What such a trigger's metadata may hold, in KEDA 2.18.3
# (pkg/scalers/redis_streams_scaler.go and redis_scaler.go, their `keda:` tags;
# `xFromEnv` for the names that may come from the target's environment). The CRD types
# `metadata` as a map of strings: a misspelt key would be ignored without a word.
KEDA_STREAM_KEYS = {
    "stream",
    "consumerGroup",
    "lagCount",
    "activationLagCount",
    "pendingEntriesCount",
    "streamLength",
    "databaseIndex",
    "enableTLS",
    "unsafeSsl",
    *(name + suffix for name in KEDA_CONNECTION for suffix in ("", "FromEnv")),
}
# What a TriggerAuthentication may give the same scalers (their authParams).
KEDA_AUTH_PARAMETERS = {*KEDA_CONNECTION, "tls", "cert", "key", "keyPassword", "ca"}
STREAM_TRIGGERS = {"redis-streams", "redis-cluster-streams"}
HAND_BACK_MARGIN = 5  # seconds past the grace: hand back the rest, close, exit
PLACEHOLDER_URL = "redis://redis.example:6379/0"  # the user's Secret in external variants
README_SECTION = re.compile(r"<!-- section: kubernetes -->(.*?)<!-- section: ", re.S)
Doc = dict[str, Any]


# --- rendering -------------------------------------------------------------------------


@cache
def kubectl() -> str | None:
    """A kubectl whose kustomize is v5 (components, replacements), or None."""
    for name in (os.environ.get("SMS_KUBECTL"), "kubectl"):
        candidate = shutil.which(name) if name else None
        if candidate is None:
            continue
        done = subprocess.run(
            [candidate, "version", "--client"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if re.search(r"^Kustomize Version: v5\.", done.stdout, re.M):
            return candidate
    return None


def render(path: Path) -> list[Doc]:
    """The objects ``kubectl kustomize`` makes of a kustomization folder."""
    binary = kubectl()
    if binary is None:
        if os.environ.get("SMS_REQUIRE_KUBECTL") == "1":
            pytest.fail("SMS_REQUIRE_KUBECTL=1 but no kubectl with kustomize v5 was found")
        pytest.skip("no kubectl with kustomize v5 (set SMS_KUBECTL)")
    done = subprocess.run(
        [binary, "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Doc]]:
    return {name: render(path) for name, path in VARIANTS.items()}


@pytest.fixture(params=sorted(VARIANTS))
def variant(request: pytest.FixtureRequest, rendered: dict[str, list[Doc]]) -> list[Doc]:
    return rendered[request.param]


def only(docs: list[Doc], kind: str, name: str | None = None) -> Doc:
    found = [
        d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"{len(found)} {kind} {name or ''}"
    return found[0]


def role_of(doc: Doc) -> str | None:
    return cast(str | None, doc["metadata"].get("labels", {}).get("app.kubernetes.io/component"))


def workloads(docs: list[Doc]) -> Iterator[Doc]:
    return (d for d in docs if d["kind"] in WORKLOADS)


def pod_spec(workload: Doc) -> Doc:
    return cast(Doc, workload["spec"]["template"]["spec"])


def role_workloads(docs: list[Doc]) -> dict[str, Doc]:
    found = {role_of(w): w for w in workloads(docs) if role_of(w) in ROLES}
    assert set(found) == set(ROLES), f"roles found: {sorted(map(str, found))}"
    return cast(dict[str, Doc], found)


def container_env(docs: list[Doc], container: Doc) -> dict[str, str]:
    """The container's environment as the kubelet builds it: envFrom ConfigMaps, then env
    (values, and ConfigMap or Secret keys; a Secret the variant leaves to the user is the
    placeholder URL)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(only(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
    for item in container.get("env", []):
        source = item.get("valueFrom", {})
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            secrets = [
                d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == ref["name"]
            ]
            env[item["name"]] = secrets[0]["stringData"][ref["key"]] if secrets else PLACEHOLDER_URL
        else:
            ref = source["configMapKeyRef"]
            env[item["name"]] = only(docs, "ConfigMap", ref["name"])["data"][ref["key"]]
    return env


def role_settings(
    docs: list[Doc], role: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[RoleSettings, dict[str, str]]:
    """The role's settings model built from its container's environment, and that env."""
    (container,) = pod_spec(role_workloads(docs)[role])["containers"]
    env = container_env(docs, container)
    for name in list(os.environ):
        if name.startswith(("SENDER_", "PRODUCER_", "MONITOR_", "SMS_", "REDIS_", "LOG_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return ROLES[role](_env_file=None), env  # type: ignore[call-arg]


def mounted_config(docs: list[Doc], tmp_path: Path) -> SimConfig:
    """The config.yaml a role reads: the ConfigMap mounted where SMS_CONFIG points."""
    sender = role_workloads(docs)["sender"]
    (container,) = pod_spec(sender)["containers"]
    where = Path(container_env(docs, container)["SMS_CONFIG"])
    (mount,) = [m for m in container["volumeMounts"] if Path(m["mountPath"]) == where.parent]
    (volume,) = [v for v in pod_spec(sender)["volumes"] if v["name"] == mount["name"]]
    data = only(docs, "ConfigMap", volume["configMap"]["name"])["data"]
    path = tmp_path / where.name
    path.write_text(data[where.name], encoding="utf-8")
    return read_config_file(path)


def scaled_object(docs: list[Doc]) -> Doc | None:
    found = [d for d in docs if d["kind"] == "ScaledObject"]
    return found[0] if found else None


# --- the run, its stream and its group -------------------------------------------------


def test_every_variant_has_one_autoscaler_for_the_senders(variant: list[Doc]) -> None:
    scalers = [d for d in variant if d["kind"] in {"ScaledObject", "HorizontalPodAutoscaler"}]
    assert len(scalers) == 1
    (scaler,) = scalers
    target = scaler["spec"]["scaleTargetRef"]
    assert target["name"] == role_workloads(variant)["sender"]["metadata"]["name"]
    assert target.get("kind", "Deployment") == "Deployment"


def keda_variants(rendered: Mapping[str, list[Doc]]) -> dict[str, tuple[list[Doc], Doc]]:
    """The variants KEDA scales, with their ScaledObject (every one but hpa)."""
    found = {name: (docs, scaled_object(docs)) for name, docs in rendered.items()}
    keda = {name: (docs, scaler) for name, (docs, scaler) in found.items() if scaler is not None}
    assert set(rendered) - set(keda) == {"hpa"}
    return keda


def test_the_scaled_object_reads_the_runs_outbox_and_the_senders_group(
    rendered: dict[str, list[Doc]], monkeypatch: pytest.MonkeyPatch
) -> None:
    for variant, scaler in keda_variants(rendered).values():
        check_stream_and_group(variant, scaler, monkeypatch)


def check_stream_and_group(
    variant: list[Doc], scaler: Doc, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = {role_settings(variant, role, monkeypatch)[0].run for role in ROLES}
    assert len(runs) == 1, f"the roles serve different runs: {runs}"
    (run,) = runs
    triggers = scaler["spec"]["triggers"]
    assert {t["type"] for t in triggers} <= STREAM_TRIGGERS
    for trigger in triggers:
        assert trigger["metadata"]["stream"] == RunKeys(run).outbox
        assert trigger["metadata"]["consumerGroup"] == keys.GROUP
    assert scaler["metadata"]["annotations"]["sms-sim/run"] == run


def test_the_stream_follows_the_run_name_set_in_one_place(tmp_path: Path) -> None:
    """Change SMS_RUN where base/kustomization.yaml sets it: the ScaledObject's stream and
    the HPA's metric selector follow, with nothing else edited."""
    copy = tmp_path / "repo"
    shutil.copytree(DEPLOY, copy / "deploy" / "kubernetes")
    shutil.copy(ROOT / "config.yaml", copy / "config.yaml")
    shutil.copytree(ROOT / "examples", copy / "examples")
    base = copy / "deploy" / "kubernetes" / "base" / "kustomization.yaml"
    text = base.read_text(encoding="utf-8")
    assert text.count("- SMS_RUN=default\n") == 1
    base.write_text(text.replace("- SMS_RUN=default\n", "- SMS_RUN=drill-7\n"), encoding="utf-8")
    for name, path in VARIANTS.items():
        docs = render(copy / path.relative_to(ROOT))
        scaler = scaled_object(docs)
        if scaler is not None:
            streams = {t["metadata"]["stream"] for t in scaler["spec"]["triggers"]}
            assert streams == {RunKeys("drill-7").outbox}, name
        else:
            hpa = only(docs, "HorizontalPodAutoscaler")
            (metric,) = hpa["spec"]["metrics"]
            assert metric["external"]["metric"]["selector"]["matchLabels"]["run"] == "drill-7"


def test_the_triggers_say_only_what_keda_reads(rendered: dict[str, list[Doc]]) -> None:
    for variant, scaler in keda_variants(rendered).values():
        check_triggers(variant, scaler)


def check_triggers(variant: list[Doc], scaler: Doc) -> None:
    backlog, in_flight = scaler["spec"]["triggers"]
    for trigger in (backlog, in_flight):
        assert set(trigger["metadata"]) <= KEDA_STREAM_KEYS, set(trigger["metadata"])
        assert all(isinstance(v, str) for v in trigger["metadata"].values())
    # With a group, lagCount makes KEDA read the group's lag; without it, pending entries.
    assert int(backlog["metadata"]["lagCount"]) > 0
    assert "lagCount" not in in_flight["metadata"]
    assert int(in_flight["metadata"]["pendingEntriesCount"]) > (
        scaler["spec"]["maxReplicaCount"] * 10_000
    )  # never asks for more than one replica: it only keeps the run served to its end
    for trigger in (backlog, in_flight):
        assert trigger["metadata"]["activationLagCount"] == "0"  # active from one message on
    auth = only(variant, "TriggerAuthentication", backlog["authenticationRef"]["name"])
    assert in_flight["authenticationRef"] == backlog["authenticationRef"]
    parameters = {ref["parameter"] for ref in auth["spec"]["secretTargetRef"]}
    assert parameters <= KEDA_AUTH_PARAMETERS
    assert parameters & {"address", "addresses"}


def test_keda_reaches_the_redis_the_roles_use(
    rendered: dict[str, list[Doc]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With Redis in the cluster: the address KEDA's operator reads (from its own namespace)
    names the Service the roles' REDIS_URL names, in the stack's namespace. (The external
    variants leave the Secret to the user.)"""
    inside = {
        name: services
        for name, docs in rendered.items()
        if (services := [d for d in docs if d["kind"] == "Service" and role_of(d) == "redis"])
    }
    assert set(rendered) - set(inside) == {"external-redis", "external-redis-cluster"}
    for name, (service,) in inside.items():
        check_redis_address(rendered[name], service, monkeypatch)


def check_redis_address(variant: list[Doc], service: Doc, monkeypatch: pytest.MonkeyPatch) -> None:
    (port,) = service["spec"]["ports"]
    secret = only(variant, "Secret", "sms-redis")["stringData"]
    namespace = service["metadata"]["namespace"]
    assert secret["address"] == f"{service['metadata']['name']}.{namespace}.svc:{port['port']}"
    for role in ROLES:
        url = urlsplit(str(role_settings(variant, role, monkeypatch)[0].redis_url))
        assert (url.hostname, url.port) == (service["metadata"]["name"], port["port"])
    redis = next(w for w in workloads(variant) if role_of(w) == "redis")
    (container,) = pod_spec(redis)["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports[port["targetPort"]] == 6379


# --- environment, grace, ports ---------------------------------------------------------


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_variable_of_a_role_is_a_setting_it_reads(
    variant: list[Doc], role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = ROLES[role]
    settings, env = role_settings(variant, role, monkeypatch)  # a bad value raises here
    known = {model.env_name(field) for field in model.model_fields}
    assert set(env) <= known, f"{role}: not settings of {model.__name__}: {set(env) - known}"
    for name in ("redis_url", "run", "config", "log_level"):
        assert model.env_name(name) in env, f"{role} gets no {model.env_name(name)}"
    assert settings.redis_url is not None


def test_the_senders_grace_fits_in_their_termination_grace(
    variant: list[Doc], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, env = role_settings(variant, "sender", monkeypatch)
    assert isinstance(settings, SenderSettings)
    assert SenderSettings.env_name("grace") in env  # stated where the deadline is
    spec = pod_spec(role_workloads(variant)["sender"])
    assert spec["terminationGracePeriodSeconds"] >= settings.grace + HAND_BACK_MARGIN


def test_the_monitor_serves_metrics_on_its_port(
    variant: list[Doc], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, _ = role_settings(variant, "monitor", monkeypatch)
    assert isinstance(settings, MonitorSettings)
    port = settings.metrics_port
    assert port
    monitor = role_workloads(variant)["monitor"]
    (container,) = pod_spec(monitor)["containers"]
    (declared,) = container["ports"]
    assert declared["containerPort"] == port
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/metrics", "port": declared["name"]}
    annotations = monitor["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port)
    service = next(d for d in variant if d["kind"] == "Service" and role_of(d) == "monitor")
    (service_port,) = service["spec"]["ports"]
    assert service_port["targetPort"] in (declared["name"], port)
    assert (
        service["spec"]["selector"].items()
        <= monitor["spec"]["template"]["metadata"]["labels"].items()
    )


def test_the_hpa_variant_scales_on_a_metric_the_monitor_exports(
    rendered: dict[str, list[Doc]], monkeypatch: pytest.MonkeyPatch
) -> None:
    variant = rendered["hpa"]
    (metric,) = only(variant, "HorizontalPodAutoscaler")["spec"]["metrics"]
    assert metric["type"] == "External"
    assert metric["external"]["metric"]["name"] in metric_names()
    run = role_settings(variant, "monitor", monkeypatch)[0].run
    assert metric["external"]["metric"]["selector"]["matchLabels"] == {"run": run}
    values = yaml.safe_load(
        (DEPLOY / "components" / "hpa" / "prometheus-adapter-values.yaml").read_text("utf-8")
    )
    (rule,) = values["rules"]["external"]
    assert rule["name"]["as"] == metric["external"]["metric"]["name"]
    assert rule["seriesQuery"].startswith(metric["external"]["metric"]["name"] + "{")


# --- image, commands, the fleet ----------------------------------------------------------


def test_the_roles_run_the_image_and_commands_compose_runs(variant: list[Doc]) -> None:
    services = load_compose()["services"]
    for role, workload in role_workloads(variant).items():
        (container,) = pod_spec(workload)["containers"]
        assert container["image"] == services[role]["image"], role
        assert container["command"] == services[role]["entrypoint"], role
        assert not container.get("args"), role
        assert container["imagePullPolicy"] == "IfNotPresent"  # loaded into the nodes
        compose_config = service_env(services[role], shell={})["SMS_CONFIG"]
        assert container_env(variant, container)["SMS_CONFIG"] == compose_config
    for redis in (w for w in workloads(variant) if role_of(w) == "redis"):
        (container,) = pod_spec(redis)["containers"]
        assert container["image"] == services["redis"]["image"]


def test_the_producer_runs_once_and_the_others_are_deployments(variant: list[Doc]) -> None:
    found = role_workloads(variant)
    assert found["producer"]["kind"] == "Job"
    assert pod_spec(found["producer"])["restartPolicy"] == "OnFailure"
    assert found["sender"]["kind"] == "Deployment"
    assert "replicas" not in found["sender"]["spec"]  # the autoscaler's to set
    assert found["monitor"]["kind"] == "Deployment"


def test_the_autoscaler_tops_out_at_the_fleet_and_brings_it_all_up(
    variant: list[Doc], tmp_path: Path
) -> None:
    """Each replica claims the next profile of the mounted config: more replicas than
    profiles would play some gateways twice. And the lag per replica must ask for the whole
    fleet for the backlogs the README works out: a run enqueued at once, or the steady
    backlog of a run larger than the producer's cap (the cap, less a batch of room the
    producer waits for, less every message the fleet's slots hold)."""
    cfg = mounted_config(variant, tmp_path)
    fleet = cfg.senders or []
    scaler = scaled_object(variant)
    if scaler is not None:
        maximum, minimum = scaler["spec"]["maxReplicaCount"], scaler["spec"]["minReplicaCount"]
        per_replica = int(scaler["spec"]["triggers"][0]["metadata"]["lagCount"])
    else:
        hpa = only(variant, "HorizontalPodAutoscaler")
        maximum, minimum = hpa["spec"]["maxReplicas"], hpa["spec"]["minReplicas"]
        (metric,) = hpa["spec"]["metrics"]
        per_replica = int(metric["external"]["target"]["averageValue"])
    assert maximum == len(fleet)
    assert minimum in (0, 1)
    producer = ProducerSettings(_env_file=None, count=cfg.num_messages)  # type: ignore[call-arg]
    if cfg.num_messages <= producer.max_backlog:
        backlog = cfg.num_messages - sum(p.concurrency or 1 for p in fleet)
    else:
        slots = sum(p.concurrency or 1 for p in fleet)
        backlog = producer.max_backlog - _chunk_size(producer) - slots
    assert math.ceil(backlog / per_replica) >= maximum, (backlog, per_replica, maximum)


def test_the_mounted_fleet_is_the_repositorys_file(variant: list[Doc], tmp_path: Path) -> None:
    cfg = mounted_config(variant, tmp_path)
    national = read_config_file(ROOT / "examples" / "national-alert.yaml")
    expected = national if cfg.num_messages == national.num_messages else None
    expected = expected or read_config_file(ROOT / "config.yaml")
    assert cfg == expected


# --- security ----------------------------------------------------------------------------


def test_every_pod_is_restricted_and_sized(variant: list[Doc]) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    (user,) = re.findall(r"^USER (\d+):(\d+)$", dockerfile, re.M)
    for workload in workloads(variant):
        spec = pod_spec(workload)
        name = workload["metadata"]["name"]
        assert spec["automountServiceAccountToken"] is False, name
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["runAsUser"] >= 10000, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        if role_of(workload) in ROLES:
            assert (str(pod["runAsUser"]), str(pod["runAsGroup"])) == user, name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            for kind in ("requests", "limits"):
                assert set(container["resources"][kind]) == {"cpu", "memory"}, (name, kind)
    namespace = only(variant, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert {d["metadata"].get("namespace") for d in variant if d["kind"] != "Namespace"} == {
        namespace["metadata"]["name"]
    }


# --- the README --------------------------------------------------------------------------


def readme_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = README_SECTION.search(text)
    assert found, "README.md has no kubernetes section"
    assert text.index("## Scaling out") < found.start(), "it follows Scaling out"
    return found.group(1)


def test_the_readme_section_says_what_was_run_and_how_to_apply() -> None:
    section = readme_section()
    assert "## Running on Kubernetes" in section
    render_default = "kubectl kustomize --load-restrictor LoadRestrictionsNone deploy/kubernetes"
    for command in (
        "docker compose build sender",  # the one image, as Compose builds it
        "kind load docker-image sms-sim:latest",
        f"{render_default} | kubectl apply -f -",
        f"{render_default} | kubectl delete -f -",
    ):
        assert command in section, command
    assert "never been run on Kubernetes" in " ".join(section.split())
    for variant in VARIANTS:
        if variant != "default":
            assert f"variants/{variant}`" in section, variant


def test_the_readme_figures_are_the_manifests(
    rendered: dict[str, list[Doc]], monkeypatch: pytest.MonkeyPatch
) -> None:
    section = readme_section()
    default, national = scaled_object(rendered["default"]), scaled_object(rendered["national"])
    assert default is not None and national is not None
    lag = default["spec"]["triggers"][0]["metadata"]["lagCount"]
    assert national["spec"]["triggers"][0]["metadata"]["lagCount"] == lag
    assert f"| `lagCount` | {lag} |" in section
    most = (default["spec"]["maxReplicaCount"], national["spec"]["maxReplicaCount"])
    assert "| `maxReplicaCount` | {} (variants/national: {}) |".format(*most) in section
    assert f"| `minReplicaCount` | {default['spec']['minReplicaCount']} |" in section
    assert f"`pollingInterval` ({default['spec']['pollingInterval']} s)" in section
    assert f"`cooldownPeriod` ({default['spec']['cooldownPeriod']} s)" in section
    settings, _ = role_settings(rendered["default"], "sender", monkeypatch)
    assert isinstance(settings, SenderSettings)
    spec = pod_spec(role_workloads(rendered["default"])["sender"])
    grace = f"{spec['terminationGracePeriodSeconds']} (senders' `SENDER_GRACE` {settings.grace:g})"
    assert f"| `terminationGracePeriodSeconds` | {grace} |" in section
    assert f"`--claim-idle` ({settings.claim_idle:g} s)" in section
