"""deploy/k8s checked offline against Kubernetes' own schemas (kubernetes-validate ships them),
strictly (an unknown field is an error), and against each other (labels, ports, probes)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

MANIFESTS = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
# gRPC probes are GA from 1.27; the newest schemas the validator ships check the rest.
VERSIONS = ["1.27", kubernetes_validate.latest_version()]
Resource = dict[str, Any]


def documents() -> list[tuple[str, Resource]]:
    found = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document is not None:
                found.append(
                    (f"{path.name}:{document['kind']}/{document['metadata']['name']}", document)
                )
    return found


def by_kind(kind: str, name: str = "pixpress") -> Resource:
    return next(
        document
        for _, document in documents()
        if document["kind"] == kind and document["metadata"]["name"] == name
    )


def test_every_manifest_file_holds_a_resource() -> None:
    kinds = sorted(document["kind"] for _, document in documents())
    assert kinds == ["ConfigMap", "Deployment", "PodDisruptionBudget", "Service", "Service"]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("name", "document"), documents(), ids=[name for name, _ in documents()])
def test_manifests_match_the_kubernetes_schemas(
    name: str, document: Resource, version: str
) -> None:
    kubernetes_validate.validate(document, version, strict=True)


def _container(deployment: Resource) -> Resource:
    container: Resource = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def _set(path: str, value: object) -> Callable[[Resource], None]:
    def apply(document: Resource) -> None:
        *parents, last = path.split(".")
        node: Any = document
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = value

    return apply


def _drop(path: str) -> Callable[[Resource], None]:
    def apply(document: Resource) -> None:
        *parents, last = path.split(".")
        node: Any = document
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        del node[last]

    return apply


CONTAINER = "spec.template.spec.containers.0"


@pytest.mark.parametrize(
    ("kind", "mistake"),
    [
        ("Deployment", _set("spec.replicas", "three")),
        ("Deployment", _set("spec.replica", 3)),  # a misspelt field: only strict catches it
        ("Deployment", _set(f"{CONTAINER}.readinessProbe.grpc.port", "grpc")),  # ints only
        ("Deployment", _drop(f"{CONTAINER}.name")),
        ("Deployment", _set(f"{CONTAINER}.resources.limits", ["memory", "4Gi"])),
        ("Deployment", _set(f"{CONTAINER}.env.0.valueFrom.secretKeyRef.keys", "url")),
        ("Service", _drop("spec.ports.0.port")),
        ("Service", _set("spec.ports.0.protocol", 6)),
        ("ConfigMap", _set("data.PIXPRESS_WORKERS", 2)),  # ConfigMap values are strings
    ],
)
def test_a_deliberate_mistake_in_a_copy_is_caught(
    kind: str, mistake: Callable[[Resource], None]
) -> None:
    broken = copy.deepcopy(by_kind(kind))
    mistake(broken)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)


def test_the_pieces_refer_to_each_other() -> None:
    deployment = by_kind("Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    container = _container(deployment)
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    config = by_kind("ConfigMap")["data"]
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    for service in (by_kind("Service"), by_kind("Service", "pixpress-headless")):
        assert service["spec"]["selector"].items() <= pod_labels.items()
        assert {port["targetPort"] for port in service["spec"]["ports"]} <= ports.keys()
    assert by_kind("PodDisruptionBudget")["spec"]["selector"] == deployment["spec"]["selector"]
    # The probes ask the ports the server listens on, as the ConfigMap configures it.
    assert (
        container["readinessProbe"]["grpc"]["port"] == ports["grpc"] == int(config["PIXPRESS_PORT"])
    )
    assert ports["http"] == int(config["PIXPRESS_HTTP_PORT"])
    assert ports["metrics"] == int(config["PIXPRESS_METRICS_PORT"])
    assert container["livenessProbe"]["httpGet"]["port"] == "http"
    assert {"name": "pixpress"} in [source["configMapRef"] for source in container["envFrom"]]
    store = next(item for item in container["env"] if item["name"] == "PIXPRESS_STORE")
    assert store["valueFrom"]["secretKeyRef"] == {"name": "pixpress-store", "key": "url"}
    assert all(name.startswith("PIXPRESS_") for name in config)
