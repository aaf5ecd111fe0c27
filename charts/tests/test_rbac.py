"""The chart's RBAC is least privilege: per feature combination the rendered rules equal the
minimal set, and the real server, run against an API server fake that authorizes with
exactly those rules, uses every rule granted and is refused nothing it needs."""

from __future__ import annotations

import base64
import json
import subprocess
import time
import uuid

import pytest

from kube_api import FakeKubeApi
from registry import Registry
from support import (
    BUILT_POLICIES,
    LANDED,
    NAMESPACE,
    Server,
    find,
    granted,
    landed_certs,
    one,
    render,
    validate_strictly,
    write_local_config,
)


def reviewed_kinds() -> list[dict]:
    return json.loads(subprocess.run([LANDED, "kinds", "--output", "json"], check=True, capture_output=True, text=True).stdout)


PULL_SECRETS = {("", "secrets", "get"), ("", "serviceaccounts", "get")}
LIST_WORKLOADS = {(k["group"], k["resource"], "list") for k in reviewed_kinds()}
EVENTS = {("", "events", "create")}
OPEN_REPORTS = {("openreports.io", "reports", v) for v in ("get", "create", "update")}
WG_REPORTS = {("wgpolicyk8s.io", "policyreports", v) for v in ("get", "create", "update")}

# values -> the minimal rules they need.
COMBINATIONS = {
    "nothing": ({}, set()),
    "pull-secrets": ({"pullSecrets": {"enabled": True}}, PULL_SECRETS),
    "landed-audit": ({"audit": {"enabled": True}}, LIST_WORKLOADS),
    "events": ({"audit": {"events": True}}, EVENTS),
    "background-scan": ({"audit": {"backgroundScan": {"interval": "10m"}}}, LIST_WORKLOADS),
    # OpenReports by default; wg-policy PolicyReports when asked; never both groups.
    "scan-and-reports": (
        {"audit": {"backgroundScan": {"interval": "10m"}, "policyReports": True}},
        LIST_WORKLOADS | OPEN_REPORTS,
    ),
    "scan-and-wgpolicy-reports": (
        {"audit": {"backgroundScan": {"interval": "10m"}, "policyReports": True, "reports": "wgpolicyk8s"}},
        LIST_WORKLOADS | WG_REPORTS,
    ),
    "format-without-reports": (
        {"audit": {"backgroundScan": {"interval": "10m"}, "reports": "wgpolicyk8s"}},
        LIST_WORKLOADS,
    ),
    "everything": (
        {"pullSecrets": {"enabled": True}, "audit": {"enabled": True, "events": True, "backgroundScan": {"interval": "10m"}, "policyReports": True}},
        PULL_SECRETS | LIST_WORKLOADS | EVENTS | OPEN_REPORTS,
    ),
}


@pytest.mark.parametrize("name", sorted(COMBINATIONS))
def test_granted_rules_are_the_minimal_set(name):
    values, expected = COMBINATIONS[name]
    docs = render(values)
    validate_strictly(docs)
    assert granted(docs) == expected
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    account = one(docs, "ServiceAccount")
    # The API token is in the pod exactly when some rule is granted, and the ServiceAccount agrees.
    assert pod["automountServiceAccountToken"] is bool(expected)
    assert account["automountServiceAccountToken"] is bool(expected)
    if not expected:
        assert find(docs, "ClusterRole") == [] and find(docs, "ClusterRoleBinding") == []
        return
    role, binding = one(docs, "ClusterRole"), one(docs, "ClusterRoleBinding")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": NAMESPACE}]
    # Nothing in the chart grants itself more through another Role.
    assert find(docs, "Role") == [] and find(docs, "RoleBinding") == []


def test_no_token_without_a_service_account_of_our_own():
    docs = render({"serviceAccount": {"create": False, "name": "shared"}})
    assert find(docs, "ServiceAccount") == []
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "shared" and pod["automountServiceAccountToken"] is False


# ----------------------------------------------------------------------------- the real server

USER, PASSWORD = "puller", "pull-secret-password"


def pod(registry: str) -> dict:
    """A Pod whose image never landed, pulled with the secret of its service account."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "shop", "uid": str(uuid.uuid4())},
        "spec": {
            "serviceAccountName": "builder",
            "imagePullSecrets": [{"name": "pod-pull"}],
            "containers": [{"name": "web", "image": f"{registry}/shop/web:never-pushed"}],
        },
    }


def populate(api: FakeKubeApi, registry: str):
    """The cluster: the pod (listed by the scan), its service account naming a pull secret
    with the registry's password, and no `pod-pull` Secret (the pod's own name is missing)."""
    api.lists[("", "pods")] = [pod(registry)]
    api.objects[("", "serviceaccounts", "shop", "builder")] = {
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "builder", "namespace": "shop"},
        "imagePullSecrets": [{"name": "builder-pull"}],
    }
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    docker = json.dumps({"auths": {registry: {"auth": auth}}}).encode()
    api.objects[("", "secrets", "shop", "builder-pull")] = {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
        "metadata": {"name": "builder-pull", "namespace": "shop"},
        "data": {".dockerconfigjson": base64.b64encode(docker).decode()},
    }


def review(obj: dict) -> bytes:
    kind = {"group": "", "version": "v1", "kind": "Pod"}
    return json.dumps({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()), "kind": kind, "requestKind": kind,
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "name": obj["metadata"]["name"], "namespace": obj["metadata"]["namespace"],
            "operation": "CREATE", "userInfo": {"username": "dev"}, "object": obj,
            "dryRun": False,
        },
    }).encode()


def wait_for(condition, what: str, server: Server, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; server log:\n" + "".join(server.log[-30:]))


LIVE = {
    # Every feature: every rule is used, nothing is refused.
    "everything": {"pullSecrets": {"enabled": True}, "audit": {"events": True, "backgroundScan": {"interval": "1s"}, "policyReports": True}},
    # Pull secrets alone: the admission review reads the secrets, nothing else is asked.
    "pull-secrets": {"pullSecrets": {"enabled": True}},
    # The scan with wg-policy reports, without pull secrets.
    "scan-and-wgpolicy-reports": {"audit": {"backgroundScan": {"interval": "1s"}, "policyReports": True, "reports": "wgpolicyk8s"}},
}


@pytest.mark.parametrize("name", sorted(LIVE))
def test_the_server_uses_exactly_what_is_granted(name, tmp_path):
    if not (BUILT_POLICIES / "require_landed.wasm").exists():
        pytest.skip("the built-in policies are built by policies/build.sh (scripts/test runs it first)")
    registry = Registry(tmp_path, USER, PASSWORD)
    values = {**LIVE[name], "config": {"mode": "audit", "onUndetermined": "deny", "registries": [{"host": registry.host, "insecureHttp": True}]}}
    docs = render(values)
    rules = granted(docs)
    api = FakeKubeApi(rules)
    populate(api, registry.host)
    certs = landed_certs(tmp_path)
    config = write_local_config(docs, tmp_path, certs / "tls.crt", certs / "tls.key")
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", NAMESPACE)
    server = Server(config, tmp_path, env={"KUBECONFIG": str(kubeconfig)})
    try:
        status, body = server.request("POST", "/validate", (certs / "ca.crt").read_text(), "localhost", body=review(pod(registry.host)))
        assert status == 200, body
        answer = json.loads(body)["response"]
        assert answer["allowed"] is True  # audit mode
        events = lambda: [o for (g, r, _, _), o in list(api.objects.items()) if r == "events"]  # noqa: E731
        reports = lambda: [o for (g, r, _, _), o in list(api.objects.items()) if r in ("reports", "policyreports")]  # noqa: E731
        audit = values.get("audit", {})
        if audit.get("events"):
            wait_for(lambda: events(), "the audit Event", server)
        if audit.get("policyReports"):
            # Created by the first scan, replaced by the second.
            wait_for(lambda: any(int(o["metadata"]["resourceVersion"]) > 1 for o in reports()), "a replaced report", server)
        elif audit.get("backgroundScan"):
            wait_for(lambda: ("", "pods", "list") in api.used(), "the background scan", server)
        if values.get("pullSecrets", {}).get("enabled"):
            wait_for(lambda: PULL_SECRETS <= api.used(), "the pull-secret reads", server)
    finally:
        server.stop()
        api.stop()
        registry.stop()

    with_secret = values.get("pullSecrets", {}).get("enabled")
    refused = {(c.group, c.resource, c.verb) for c in api.forbidden()}
    if with_secret:
        assert refused == set(), "the server needs rules the chart does not grant"
    else:
        # The server reads pull secrets whenever it has an API token (it has no switch of its
        # own); without pullSecrets.enabled those reads are refused and it goes on without them.
        assert refused <= PULL_SECRETS, "the server needs rules the chart does not grant"
    assert api.used() - refused == rules, f"granted but never used: {sorted(rules - api.used())}"
    # With the workload's pull secret the registry answers: the verdict is `absent`, not
    # `unauthorized`, in the Event and the report alike.
    for event in events():
        assert event["involvedObject"]["name"] == "web" and event["reason"] == "LandedWouldDeny"
        assert ("absent" if with_secret else "unauthorized") in event["message"], event["message"]
    for report in reports():
        assert report["metadata"]["namespace"] == "shop"
        failed = [r["message"] for r in report["results"] if r["result"] == "fail"]
        assert failed and ("absent" if with_secret else "unauthorized") in failed[0], report
