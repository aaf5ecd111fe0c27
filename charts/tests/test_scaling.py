"""Scaling out: the optional HorizontalPodAutoscaler, the PodDisruptionBudget that agrees with
it, and priorityClassName. Every value set, with the options on and off, lints clean and
validates strictly against the Kubernetes schemas; inconsistent values fail to render."""

from __future__ import annotations

import re

import helm_python as helm
import pytest

from support import CHART, NAMESPACE, find, one, render, validate_strictly

SETS: dict[str, dict] = {
    "off": {},
    "off-one-replica": {"replicaCount": 1},
    "on": {"autoscaling": {"enabled": True}},
    # replicaCount 1 is ignored with autoscaling: the PDB still comes, from minReplicas.
    "on-one-replica": {"autoscaling": {"enabled": True}, "replicaCount": 1},
    "on-everything": {
        "priorityClassName": "landed-critical",
        "podDisruptionBudget": {"minAvailable": 5},
        "autoscaling": {
            "enabled": True,
            "minReplicas": 3,
            "maxReplicas": 12,
            "targetCPUUtilizationPercentage": 60,
            "targetMemoryUtilizationPercentage": 80,
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 600}},
        },
    },
    "on-no-pdb": {"autoscaling": {"enabled": True}, "podDisruptionBudget": {"enabled": False}},
}


def disruptions_allowed(pdb: dict, replicas: int) -> int:
    """Pods a drain may evict when `replicas` are healthy, as the disruption controller counts."""
    spec = pdb["spec"]
    if "maxUnavailable" in spec:
        return int(spec["maxUnavailable"])
    return replicas - int(spec["minAvailable"])


@pytest.mark.parametrize("name", sorted(SETS))
def test_lint_is_clean(name):
    report = helm.lint(CHART, SETS[name], strict=True, namespace=NAMESPACE, kube_version="v1.30.0")
    assert report["errors"] == [], report
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("name", sorted(SETS))
def test_every_manifest_validates_strictly(name):
    docs = render(SETS[name])
    assert validate_strictly(docs) >= 5
    assert bool(find(docs, "HorizontalPodAutoscaler")) == SETS[name].get("autoscaling", {}).get("enabled", False)


def test_off_keeps_the_fixed_replica_count_and_min_available():
    docs = render({})
    assert find(docs, "HorizontalPodAutoscaler") == []
    assert one(docs, "Deployment")["spec"]["replicas"] == 2
    assert one(docs, "PodDisruptionBudget")["spec"]["minAvailable"] == 1
    assert "priorityClassName" not in one(docs, "Deployment")["spec"]["template"]["spec"]
    # One replica: no PDB, which could never allow an eviction.
    assert find(render({"replicaCount": 1}), "PodDisruptionBudget") == []


def test_on_targets_the_deployment_with_cpu_utilisation():
    docs = render(SETS["on"])
    hpa, deployment = one(docs, "HorizontalPodAutoscaler"), one(docs, "Deployment")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["metadata"]["namespace"] == NAMESPACE
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment["metadata"]["name"]}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    assert hpa["spec"]["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}
    ]
    assert "behavior" not in hpa["spec"]
    # The HPA owns the count: an upgrade must not reset it.
    assert "replicas" not in deployment["spec"]


def test_options_reach_the_hpa_and_the_pod():
    docs = render(SETS["on-everything"])
    hpa = one(docs, "HorizontalPodAutoscaler")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 12)
    assert [(m["resource"]["name"], m["resource"]["target"]["averageUtilization"]) for m in hpa["metrics"]] == [("cpu", 60), ("memory", 80)]
    assert hpa["behavior"] == {"scaleDown": {"stabilizationWindowSeconds": 600}}
    assert one(docs, "Deployment")["spec"]["template"]["spec"]["priorityClassName"] == "landed-critical"


@pytest.mark.parametrize("name", [n for n in sorted(SETS) if n.startswith("on") and n != "on-no-pdb"])
def test_the_pdb_never_blocks_a_drain_at_min_replicas(name):
    docs = render(SETS[name])
    hpa, pdb, deployment = one(docs, "HorizontalPodAutoscaler"), one(docs, "PodDisruptionBudget"), one(docs, "Deployment")
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    # Even with podDisruptionBudget.minAvailable above minReplicas (on-everything sets 5).
    for replicas in range(hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"] + 1):
        assert disruptions_allowed(pdb, replicas) == 1, (replicas, pdb["spec"])
    assert "minAvailable" not in pdb["spec"]


def test_the_pdb_can_still_be_turned_off():
    assert find(render(SETS["on-no-pdb"]), "PodDisruptionBudget") == []


@pytest.mark.parametrize(
    "values, message",
    [
        ({"minReplicas": 1}, "autoscaling.minReplicas must be at least 2 (got 1)"),
        ({"minReplicas": 0}, "autoscaling.minReplicas must be at least 2 (got 0)"),
        ({"minReplicas": 4, "maxReplicas": 3}, "autoscaling.maxReplicas (3) must be at least autoscaling.minReplicas (4)"),
        ({"targetCPUUtilizationPercentage": 0}, "targetCPUUtilizationPercentage must be between 1 and 100"),
        ({"targetCPUUtilizationPercentage": 150}, "targetCPUUtilizationPercentage must be between 1 and 100"),
    ],
)
def test_inconsistent_autoscaling_fails_to_render(values, message):
    with pytest.raises(helm.HelmError, match=re.escape(message)):
        render({"autoscaling": {"enabled": True, **values}})


def test_autoscaling_needs_the_requests_its_targets_are_shares_of():
    with pytest.raises(helm.HelmError, match=re.escape("autoscaling needs resources.requests.cpu")):
        render({"autoscaling": {"enabled": True}, "resources": {"requests": {"cpu": None}}})
    with pytest.raises(helm.HelmError, match=re.escape("targetMemoryUtilizationPercentage needs resources.requests.memory")):
        render({"autoscaling": {"enabled": True, "targetMemoryUtilizationPercentage": 80}, "resources": {"requests": {"memory": None}}})


def test_minimum_is_only_checked_when_autoscaling_is_on():
    assert find(render({"autoscaling": {"minReplicas": 1}}), "HorizontalPodAutoscaler") == []
