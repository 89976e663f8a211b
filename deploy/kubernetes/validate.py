"""Validate rendered manifests offline: Kubernetes kinds against the API's own schemas,
KEDA's against its CRDs. CI runs it in kubernetes-validate's tool environment (it brings
jsonschema and PyYAML), on the output of `kubectl kustomize` for every variant:

    uvx --from kubernetes-validate==1.37.0 python deploy/kubernetes/validate.py FILE...

- Kubernetes kinds: kubernetes-validate's bundled OpenAPI schemas for KUBERNETES_VERSION,
  strict (an unknown field is an error, as `kubectl apply --validate=strict` would say).
- KEDA kinds (ScaledObject, TriggerAuthentication): the openAPIV3Schema of KEDA's own CRDs,
  vendored unchanged from its release in schemas/keda-<version>/, made strict the same
  way (every object that lists its properties admits no other, unless the CRD says it
  preserves unknown fields). A trigger's `metadata` is a map of strings there: which keys
  a redis-streams trigger knows is checked by tests/test_kubernetes.py.
- Any other kind (no schema to check it against) is an error, not a warning.

Exit 0 when every document of every file validates, 1 otherwise (each problem printed).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from kubernetes_validate import utils as k8s

KUBERNETES_VERSION = "1.31.0"
KEDA_VERSION = "2.18.3"
CRDS = Path(__file__).parent / "schemas" / f"keda-{KEDA_VERSION}"


def strict(schema: Any) -> Any:
    """The schema with `additionalProperties: false` wherever it lists properties and does
    not preserve unknown fields (what a structural CRD schema means: the API server prunes
    unknown fields, so a misspelled one would be dropped without a word)."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    done = {key: strict(value) for key, value in schema.items()}
    if (
        "properties" in done
        and "additionalProperties" not in done
        and not done.get("x-kubernetes-preserve-unknown-fields")
    ):
        done["additionalProperties"] = False
    return done


def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the strict JSON schema of that version of a vendored CRD."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text(encoding="utf-8"))
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = strict(version["schema"]["openAPIV3Schema"])
            found[(f"{group}/{version['name']}", kind)] = schema
    return found


def problems(doc: dict[str, Any], crds: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    api, kind = doc.get("apiVersion", ""), doc.get("kind", "")
    if (api, kind) in crds:
        validator = jsonschema.Draft7Validator(crds[(api, kind)])
        return [
            f"{'.'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
            for error in sorted(validator.iter_errors(doc), key=str)
        ]
    try:
        k8s.validate(doc, KUBERNETES_VERSION, strict=True)
    except k8s.ValidationError as error:
        path = ".".join(str(p) for p in error.path)
        return [f"{path or '<root>'}: {error.message}"]
    except k8s.SchemaNotFoundError:
        return [
            f"no schema for {api} {kind} (Kubernetes {KUBERNETES_VERSION}, KEDA {KEDA_VERSION})"
        ]
    return []


def main(files: list[str]) -> int:
    crds = crd_schemas()
    failed = checked = 0
    for name in files:
        docs = [d for d in yaml.safe_load_all(Path(name).read_text(encoding="utf-8")) if d]
        for doc in docs:
            checked += 1
            what = f"{name}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
            found = problems(doc, crds)
            failed += bool(found)
            for problem in found:
                print(f"ERROR {what}: {problem}")
    print(
        f"{checked} documents in {len(files)} files: {checked - failed} valid, {failed} invalid "
        f"(Kubernetes {KUBERNETES_VERSION}, strict; KEDA {KEDA_VERSION} CRDs, strict)"
    )
    return 1 if failed or not checked else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
