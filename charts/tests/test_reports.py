"""The reports landed writes, checked against a JSON schema of the OpenReports API
(schemas/openreports-v1alpha1.json, written from the documented reports-api types: field
names, types, required fields, enums; closed where the CRD is). The wg-policy v1alpha2
PolicyReport has the same result, summary and scope types without the report-level `source`
and `configuration`; its schema is derived from the same file. The real server's background
scan (both formats) and the real `landed audit --output openreports` run against the
RBAC-enforcing API server fake and Debian's docker-registry; every report they produce must
validate, and its summary must add up to its results."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import jsonschema
import pytest

from kube_api import FakeKubeApi
from registry import Registry
from support import BUILT_POLICIES, LANDED, NAMESPACE, Server, granted, landed_certs, render, write_local_config
from test_rbac import PASSWORD, USER, populate, wait_for

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "openreports-v1alpha1.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def wg_policy_schema() -> dict:
    """wgpolicyk8s.io/v1alpha2: OpenReports' types without the report-level fields it added."""
    schema = copy.deepcopy(SCHEMA)
    schema["properties"]["apiVersion"] = {"const": "wgpolicyk8s.io/v1alpha2"}
    schema["properties"]["kind"] = {"enum": ["PolicyReport", "ClusterPolicyReport"]}
    del schema["properties"]["source"], schema["properties"]["configuration"]
    return schema


VALIDATORS = {
    "openreports": VALIDATOR,
    "wgpolicyk8s": jsonschema.Draft202012Validator(wg_policy_schema()),
}
# (apiGroup, resource) each format is written to.
RESOURCES = {"openreports": ("openreports.io", "reports"), "wgpolicyk8s": ("wgpolicyk8s.io", "policyreports")}


def check_report(report: dict, fmt: str = "openreports"):
    """Valid against the format's schema, landed's source, and a summary that adds up."""
    errors = sorted(VALIDATORS[fmt].iter_errors(report), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    if fmt == "openreports":
        assert report["source"] == "landed"
    assert all(r["source"] == "landed" for r in report["results"])
    counts = Counter(r["result"] for r in report["results"])
    assert report["summary"] == {k: counts.get(k, 0) for k in ("pass", "fail", "warn", "error", "skip")}
    # One result per image and policy, each naming the image and its verdict class.
    assert all({"image", "container", "verdict"} <= r["properties"].keys() for r in report["results"])
    assert report["scope"] == report["results"][0]["resources"][0]


# A report as landed writes it, to show the schema is strict: each mutation must be refused.
SAMPLE = {
    "apiVersion": "openreports.io/v1alpha1",
    "kind": "Report",
    "metadata": {"name": "pod-web", "namespace": "shop", "labels": {"app.kubernetes.io/managed-by": "landed"}},
    "source": "landed",
    "scope": {"apiVersion": "v1", "kind": "Pod", "name": "web", "namespace": "shop"},
    "summary": {"pass": 0, "fail": 1, "warn": 0, "error": 0, "skip": 0},
    "results": [{
        "source": "landed", "policy": "require-landed", "result": "fail", "scored": True,
        "timestamp": {"seconds": 1, "nanos": 0},
        "resources": [{"apiVersion": "v1", "kind": "Pod", "name": "web", "namespace": "shop"}],
        "properties": {"image": "r.example/web:1", "container": "web", "verdict": "absent"},
        "message": "absent",
    }],
}


def test_the_schema_is_a_valid_schema_and_accepts_a_report():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    check_report(SAMPLE)


@pytest.mark.parametrize("path, value", [
    (("results", 0, "result"), "failed"),              # not in the result enum
    (("results", 0, "severity"), "urgent"),            # not in the severity enum
    (("results", 0, "scored"), "yes"),                 # wrong type
    (("results", 0, "timestamp"), {"seconds": 1}),     # nanos required
    (("results", 0, "verdict"), "absent"),             # unknown result field
    (("results", 0, "properties", "verdict"), 1),      # properties are strings
    (("summary", "total"), 1),                         # unknown summary field
    (("summary", "fail"), -1),                         # counts are not negative
    (("scope", "container"), "web"),                   # not an ObjectReference field
    (("kind",), "PolicyReport"),                       # another API's kind
    (("apiVersion",), "wgpolicyk8s.io/v1alpha2"),      # another API's group
    (("scopeSelector",), {"matchLabels": {"a": "b"}}),  # scope and scopeSelector are exclusive
    (("metadata", "name"), "Pod/Web"),                 # not a DNS subdomain
])
def test_the_schema_refuses(path, value):
    doc = copy.deepcopy(SAMPLE)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert list(VALIDATOR.iter_errors(doc)), f"accepted {path} = {value!r}"


def test_the_wg_policy_schema_refuses_the_fields_only_openreports_has():
    doc = {**copy.deepcopy(SAMPLE), "apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport"}
    assert list(VALIDATORS["wgpolicyk8s"].iter_errors(doc)), "accepted a report-level source"
    del doc["source"]
    check_report(doc, "wgpolicyk8s")


def test_the_schema_requires_the_policy_of_a_result():
    doc = copy.deepcopy(SAMPLE)
    del doc["results"][0]["policy"]
    assert list(VALIDATOR.iter_errors(doc))


@pytest.fixture(params=["openreports"])
def cluster(request, tmp_path):
    """The chart's config with the background scan writing reports in the format of the
    parameter, the RBAC-enforcing API fake holding one never-pushed pod, and the registry."""
    if not (BUILT_POLICIES / "require_landed.wasm").exists():
        pytest.skip("the built-in policies are built by policies/build.sh (scripts/test runs it first)")
    registry = Registry(tmp_path, USER, PASSWORD)
    values = {
        "pullSecrets": {"enabled": True},
        "audit": {"backgroundScan": {"interval": "1s"}, "policyReports": True, "reports": request.param},
        "config": {"mode": "audit", "registries": [{"host": registry.host, "insecureHttp": True}]},
    }
    docs = render(values)
    api = FakeKubeApi(granted(docs))
    populate(api, registry.host)
    certs = landed_certs(tmp_path)
    config = write_local_config(docs, tmp_path, certs / "tls.crt", certs / "tls.key")
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", NAMESPACE)
    yield api, config, kubeconfig
    api.stop()
    registry.stop()


@pytest.mark.parametrize("cluster", ["openreports", "wgpolicyk8s"], indirect=True)
def test_the_background_scan_writes_valid_reports(cluster, tmp_path, request):
    api, config, kubeconfig = cluster
    fmt = request.node.callspec.params["cluster"]
    server = Server(config, tmp_path, env={"KUBECONFIG": str(kubeconfig)})
    reports = lambda: [o for (g, r, _, _), o in list(api.objects.items()) if (g, r) == RESOURCES[fmt]]  # noqa: E731
    try:
        wait_for(lambda: any(int(o["metadata"]["resourceVersion"]) > 1 for o in reports()), "a replaced report", server)
    finally:
        server.stop()
    assert [r["metadata"]["name"] for r in reports()] == ["pod-web"]
    for report in reports():
        check_report(report, fmt)
        assert report["results"][0]["result"] == "fail"
        assert report["results"][0]["properties"]["verdict"] == "absent"
        assert report["metadata"]["ownerReferences"][0]["name"] == "web"


def test_landed_audit_prints_valid_openreports(cluster, tmp_path):
    api, config, kubeconfig = cluster
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANDED_", "KUBE"))}
    env.update(KUBECONFIG=str(kubeconfig), HOME=str(tmp_path))
    run = subprocess.run([LANDED, "audit", "--config", config, "--output", "openreports"], capture_output=True, text=True, env=env)
    assert run.returncode == 1, run.stderr  # something would be denied
    listed = json.loads(run.stdout)
    assert listed["kind"] == "List" and len(listed["items"]) == 1
    for report in listed["items"]:
        check_report(report)
    assert not api.forbidden()
