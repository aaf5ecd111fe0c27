"""Tests of charts/landed, offline.

Renders the chart with the Helm SDK (helm-python-sdk, no helm binary) for several value sets,
lints it, validates every rendered manifest against the Kubernetes schemas
(kubernetes-validate, strict), checks the webhook rules against `landed kinds`, and starts
the real server with the rendered landed.yaml.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import subprocess
import tomllib

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from support import (
    BUILT_POLICIES,
    CHART,
    K8S_VERSIONS,
    LANDED,
    NAMESPACE,
    ROOT,
    Server,
    client_pki,
    container,
    find,
    landed_certs,
    landed_config,
    one,
    render,
    validate_strictly,
    write_local_config,
)

# A PEM-shaped placeholder CA for tls.mode=secret (rendering only; no TLS handshake uses it).
FAKE_CA_B64 = base64.b64encode(
    b"-----BEGIN CERTIFICATE-----\nMIIBplaceholder\n-----END CERTIFICATE-----\n"
).decode()

VALUE_SETS: dict[str, dict] = {
    "defaults": {},
    "cert-manager": {"tls": {"mode": "certManager"}},
    "cert-manager-cluster-issuer": {
        "tls": {
            "mode": "certManager",
            "certManager": {
                "issuerRef": {"kind": "ClusterIssuer", "name": "corp-ca", "group": "cert-manager.io"}
            },
        }
    },
    "self-signed": {"tls": {"mode": "selfSigned"}},
    "existing-secret": {
        "tls": {"mode": "secret", "secret": {"name": "landed-serving", "caBundle": FAKE_CA_B64}}
    },
    "audit": {"config": {"mode": "audit"}},
    "pinning": {"pinning": {"enabled": True}},
    "pull-secrets-and-audit": {"pullSecrets": {"enabled": True}, "audit": {"enabled": True}},
    "audit-events-scan-reports": {
        "config": {"mode": "audit"},
        "audit": {"events": True, "backgroundScan": {"interval": "10m"}, "policyReports": True},
        "metrics": {"scrapeAnnotations": True},
    },
    "gke": {
        "serviceAccount": {"gcpServiceAccount": "landed@my-proj.iam.gserviceaccount.com"},
        "config": {
            "mode": "warn",
            "onUndetermined": "deny",
            "namespaces": {"staging": {"mode": "audit"}, "payments": {"onUndetermined": "deny"}},
            "registries": [
                {"host": "us-docker.pkg.dev", "auth": "gcp"},
                {
                    "host": "registry.internal:5000",
                    "endpoint": "https://mirror.internal:5000",
                    "insecureHttp": False,
                    "auth": "dockerConfig",
                },
            ],
            "cache": {"tagTtl": "2m", "absentTtl": "5s"},
            "policies": [
                {"name": "require-landed", "failurePolicy": "Fail"},
                {"name": "pin-digest", "failurePolicy": "Ignore"},
                {"name": "no-latest-tag", "mode": "warn"},
                {
                    "name": "allowed-registries",
                    "settings": {"registries": ["us-docker.pkg.dev"]},
                    "failurePolicy": "Ignore",
                },
            ],
        },
    },
    "everything-on": {
        "replicaCount": 3,
        "podAntiAffinity": "hard",
        "priorityClassName": "landed-critical",
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "landed"}},
            }
        ],
        "imagePullSecrets": ["ghcr-pull"],
        "extraEnv": [{"name": "RUST_BACKTRACE", "value": "1"}],
        "extraVolumes": [{"name": "registry-ca", "configMap": {"name": "registry-ca"}}],
        "extraVolumeMounts": [{"name": "registry-ca", "mountPath": "/etc/landed-registry-ca"}],
        "registryCredentials": {"dockerConfigSecret": "landed-registry-creds"},
        "webhook": {
            "failurePolicy": "Fail",
            "timeoutSeconds": 5,
            "namespaceSelector": {
                "matchLabels": {"landed.dev/enabled": "true"},
                "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["system"]}],
            },
            "objectSelector": {"matchExpressions": [{"key": "landed.dev/skip", "operator": "DoesNotExist"}]},
            "matchConditions": {"skipBreakglass": True},
        },
        "pinning": {"enabled": True},
        "pullSecrets": {"enabled": True},
        "audit": {"enabled": True},
        "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}},
        "tls": {"mode": "certManager"},
        "config": {
            "resolve": {"deadline": "2s", "requestTimeout": "1500ms"},
            "checkUnchangedImages": True,
            "breakglass": {
                "groups": ["oncall@example.com"],
                "users": ["system:serviceaccount:kube-system:replicaset-controller"],
            },
        },
    },
    "server-limits": {
        "server": {
            "limits": {
                "tlsHandshakeTimeout": "3s",
                "headerReadTimeout": "4s",
                "idleTimeout": "100s",
                "http2IdleTimeout": "110s",
                "maxConnectionAge": "10m",
                "requestTimeout": "15s",
                "maxConcurrentStreams": 50,
                "maxConnections": 256,
            }
        },
    },
    "client-auth": {
        "server": {"clientAuth": {"enabled": True, "caConfigMap": "apiserver-client-ca"}},
        "metrics": {
            "serviceMonitor": {
                "enabled": True,
                "clientCertificate": {
                    "cert": {"secret": {"name": "prometheus-landed-client", "key": "tls.crt"}},
                    "keySecret": {"name": "prometheus-landed-client", "key": "tls.key"},
                },
            }
        },
    },
    "network-policy": {
        "networkPolicy": {
            "enabled": True,
            "ingress": {"from": [{"ipBlock": {"cidr": "172.16.0.0/28"}}]},
            "metrics": {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]},
            "egress": {"enabled": True, "rules": [{"ports": [{"port": 443, "protocol": "TCP"}]}]},
        },
    },
    "single-replica-no-match-conditions": {
        "replicaCount": 1,
        "webhook": {"matchConditions": {"enabled": False}},
    },
}


# ----------------------------------------------------------------------------- helpers


def crate_version() -> str:
    with open(ROOT / "Cargo.toml", "rb") as f:
        return tomllib.load(f)["workspace"]["package"]["version"]


def seconds(text: str) -> float:
    """A humantime duration of the simple kinds the chart renders ("10s", "1500ms", "2m")."""
    m = re.fullmatch(r"(\d+)(ms|s|m|h)", text)
    assert m, text
    return int(m[1]) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m[2]]


@pytest.fixture(scope="module", params=sorted(VALUE_SETS), ids=sorted(VALUE_SETS))
def rendered(request) -> tuple[str, dict, list[dict]]:
    values = VALUE_SETS[request.param]
    return request.param, values, render(values)


# ----------------------------------------------------------------------------- every value set


def test_chart_version_and_app_version_follow_the_crate():
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert meta["apiVersion"] == "v2"
    assert meta["version"] == crate_version()
    assert str(meta["appVersion"]) == crate_version()


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_lint_is_clean(name):
    report = helm.lint(CHART, VALUE_SETS[name], strict=True, namespace=NAMESPACE, kube_version="v1.30.0")
    assert report["errors"] == [], report
    serious = [m for m in report["messages"] if m["severity"] >= 2]
    assert serious == [], serious


def test_every_manifest_validates_strictly(rendered):
    _, _, docs = rendered
    assert validate_strictly(docs) >= 5


def test_common_shape(rendered):
    name, values, docs = rendered
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "ServiceAccount", "ConfigMap", "ValidatingWebhookConfiguration"} <= kinds
    for doc in docs:
        if doc["kind"] not in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "ClusterRole", "ClusterRoleBinding"):
            assert doc["metadata"]["namespace"] == NAMESPACE, doc["__file"]

    config = landed_config(docs)
    deploy = one(docs, "Deployment")
    pod = deploy["spec"]["template"]["spec"]
    c = container(docs)

    # The server's budgets fit the webhook's and the pod's.
    vwc = one(docs, "ValidatingWebhookConfiguration")["webhooks"][0]
    assert seconds(config["server"]["webhookTimeout"]) == vwc["timeoutSeconds"]
    assert seconds(config["resolve"]["deadline"]) < vwc["timeoutSeconds"]
    assert seconds(config["server"]["shutdownGrace"]) < pod["terminationGracePeriodSeconds"]

    # The config the pod reads is the ConfigMap's, and the TLS files are in the mounted Secret.
    assert c["args"] == ["serve", "--config", "/etc/landed/landed.yaml"]
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["config"]["configMap"]["name"] == one(docs, "ConfigMap")["metadata"]["name"]
    assert mounts["config"]["mountPath"] == "/etc/landed"
    tls_dir = mounts["tls"]["mountPath"]
    assert "subPath" not in mounts["tls"], "a subPath mount never sees a renewed certificate"
    assert config["server"]["tlsCertFile"] == f"{tls_dir}/tls.crt"
    assert config["server"]["tlsKeyFile"] == f"{tls_dir}/tls.key"
    assert config["server"]["listen"] == f"0.0.0.0:{c['ports'][0]['containerPort']}"
    assert mounts["tmp"]["mountPath"] == "/tmp" and "emptyDir" in volumes["tmp"]

    # The Service reaches the container port the server listens on.
    svc = one(docs, "Service")
    assert svc["spec"]["ports"][0]["port"] == 443
    assert svc["spec"]["ports"][0]["targetPort"] == "https" == c["ports"][0]["name"]
    assert c["ports"][0]["containerPort"] == 8443
    assert svc["spec"]["selector"].items() <= deploy["spec"]["template"]["metadata"]["labels"].items()

    # Hardening.
    psc, csc = pod["securityContext"], c["securityContext"]
    assert psc["runAsNonRoot"] and psc["runAsUser"] == 65532
    assert psc["seccompProfile"]["type"] == "RuntimeDefault"
    assert csc["readOnlyRootFilesystem"] is True
    assert csc["allowPrivilegeEscalation"] is False
    assert csc["capabilities"]["drop"] == ["ALL"]
    assert c["resources"]["requests"] and c["resources"]["limits"]
    if "clientCaFile" in config["server"]:
        # The kubelet presents no client certificate: TCP checks on the same port.
        assert c["livenessProbe"]["tcpSocket"] == c["readinessProbe"]["tcpSocket"] == {"port": "https"}
        assert "httpGet" not in c["livenessProbe"] and "httpGet" not in c["readinessProbe"]
    else:
        assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "https", "scheme": "HTTPS"}
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "https", "scheme": "HTTPS"}
    env = {e["name"]: e for e in c["env"]}
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert env["LANDED_LOG_FORMAT"]["value"] == "json"

    # Replicas, spread and disruption budget.
    replicas = values.get("replicaCount", 2)
    assert deploy["spec"]["replicas"] == replicas
    pdbs = find(docs, "PodDisruptionBudget")
    if replicas > 1:
        assert len(pdbs) == 1 and pdbs[0]["spec"]["minAvailable"] == 1
        assert "podAntiAffinity" in pod["affinity"]
    else:
        assert pdbs == []  # nothing to keep available with one replica

    # The image follows the crate version unless overridden.
    assert c["image"].endswith(":" + crate_version())


def test_webhook_configuration_basics(rendered):
    name, values, docs = rendered
    webhooks = find(docs, "ValidatingWebhookConfiguration") + find(docs, "MutatingWebhookConfiguration")
    for config in webhooks:
        for wh in config["webhooks"]:
            assert wh["sideEffects"] == "None"
            assert wh["admissionReviewVersions"] == ["v1"]
            assert wh["clientConfig"]["service"]["name"] == one(docs, "Service")["metadata"]["name"]
            assert wh["clientConfig"]["service"]["namespace"] == NAMESPACE
            assert wh["clientConfig"]["service"]["port"] == 443
            excluded = wh["namespaceSelector"]["matchExpressions"][0]
            assert excluded["key"] == "kubernetes.io/metadata.name"
            assert excluded["operator"] == "NotIn"
            assert {"kube-system", "kube-public", "kube-node-lease", NAMESPACE} <= set(excluded["values"])
            # The server skips the same namespaces (and its own, from POD_NAMESPACE).
            assert set(landed_config(docs)["excludedNamespaces"]) | {NAMESPACE} == set(excluded["values"])
    vwc = one(docs, "ValidatingWebhookConfiguration")["webhooks"][0]
    assert vwc["clientConfig"]["service"]["path"] == "/validate"
    assert vwc["failurePolicy"] == values.get("webhook", {}).get("failurePolicy", "Ignore")


def test_rules_cover_exactly_what_the_server_reviews(rendered):
    """The chart's rules and `landed kinds` (WorkloadKind::ALL) must not drift apart."""
    _, _, docs = rendered
    kinds = json.loads(subprocess.run([LANDED, "kinds", "--output", "json"], check=True, capture_output=True, text=True).stdout)
    assert kinds, "landed kinds printed nothing"
    expected = set()
    for k in kinds:
        for resource in [k["resource"]] + [f"{k['resource']}/{s}" for s in k["subresources"]]:
            for op in k["operations"]:
                expected.add((k["group"], k["version"], resource, op))
    configs = find(docs, "ValidatingWebhookConfiguration") + find(docs, "MutatingWebhookConfiguration")
    for config in configs:
        for wh in config["webhooks"]:
            covered = set()
            for rule in wh["rules"]:
                assert rule["scope"] == "Namespaced"
                for g in rule["apiGroups"]:
                    for v in rule["apiVersions"]:
                        for r in rule["resources"]:
                            for op in rule["operations"]:
                                assert "*" not in (g, v, r, op), "wildcards would send unhandled kinds"
                                covered.add((g, v, r, op))
            assert covered == expected, f"{wh['name']}: missing {expected - covered}, extra {covered - expected}"


# ----------------------------------------------------------------------------- per value set


def test_defaults():
    docs = render({})
    assert find(docs, "MutatingWebhookConfiguration") == []
    assert find(docs, "ClusterRole") == [] and find(docs, "ClusterRoleBinding") == []
    assert find(docs, "ServiceMonitor") == [] and find(docs, "Certificate") == []
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert one(docs, "ServiceAccount")["automountServiceAccountToken"] is False
    assert "annotations" not in one(docs, "ServiceAccount")["metadata"]
    config = landed_config(docs)
    assert config["mode"] == "enforce" and config["onUndetermined"] == "allow"
    assert [p["name"] for p in config["policies"]] == ["require-landed", "pin-digest"]
    wh = one(docs, "ValidatingWebhookConfiguration")["webhooks"][0]
    assert wh["failurePolicy"] == "Ignore"
    assert wh["timeoutSeconds"] == 10
    conditions = {m["name"]: m["expression"] for m in wh["matchConditions"]}
    assert "system:nodes" in conditions["not-from-a-node"]
    assert "no-permitted-breakglass" not in conditions
    assert config["breakglass"] == {
        "enabled": True, "annotation": "landed.dev/breakglass", "users": [], "groups": [],
    }


def test_self_signed_secret_is_what_the_webhook_trusts():
    docs = render(VALUE_SETS["self-signed"])
    secret = one(docs, "Secret")
    assert secret["type"] == "kubernetes.io/tls"
    assert set(secret["data"]) == {"ca.crt", "tls.crt", "tls.key"}
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert {v["name"]: v for v in pod["volumes"]}["tls"]["secret"]["secretName"] == secret["metadata"]["name"]
    wh = one(docs, "ValidatingWebhookConfiguration")["webhooks"][0]
    assert wh["clientConfig"]["caBundle"] == secret["data"]["ca.crt"]
    assert "cert-manager.io/inject-ca-from" not in one(docs, "ValidatingWebhookConfiguration")["metadata"].get("annotations", {})


def test_cert_manager_issues_and_injects():
    docs = render(VALUE_SETS["cert-manager"])
    assert find(docs, "Secret") == []
    issuers = {d["metadata"]["name"]: d for d in find(docs, "Issuer")}
    certs = {d["metadata"]["name"]: d for d in find(docs, "Certificate")}
    assert issuers["landed-selfsigned"]["spec"] == {"selfSigned": {}}
    assert certs["landed-ca"]["spec"]["isCA"] is True
    assert issuers["landed-ca"]["spec"]["ca"]["secretName"] == certs["landed-ca"]["spec"]["secretName"]
    serving = certs["landed-tls"]["spec"]
    assert serving["issuerRef"]["name"] == "landed-ca"
    assert "landed.landed.svc" in serving["dnsNames"]
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert {v["name"]: v for v in pod["volumes"]}["tls"]["secret"]["secretName"] == serving["secretName"]
    vwc = one(docs, "ValidatingWebhookConfiguration")
    assert vwc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == f"{NAMESPACE}/landed-tls"
    assert "caBundle" not in vwc["webhooks"][0]["clientConfig"]


def test_cert_manager_with_an_existing_issuer_creates_none():
    docs = render(VALUE_SETS["cert-manager-cluster-issuer"])
    assert find(docs, "Issuer") == []
    cert = one(docs, "Certificate")
    assert cert["spec"]["issuerRef"] == {"kind": "ClusterIssuer", "name": "corp-ca", "group": "cert-manager.io"}


def test_existing_secret_and_ca_bundle():
    docs = render(VALUE_SETS["existing-secret"])
    assert find(docs, "Secret") == [] and find(docs, "Certificate") == []
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert {v["name"]: v for v in pod["volumes"]}["tls"]["secret"]["secretName"] == "landed-serving"
    assert one(docs, "ValidatingWebhookConfiguration")["webhooks"][0]["clientConfig"]["caBundle"] == FAKE_CA_B64


def test_existing_secret_mode_requires_name_and_ca_bundle():
    with pytest.raises(helm.HelmError, match="tls.secret.name"):
        render({"tls": {"mode": "secret", "secret": {"caBundle": FAKE_CA_B64}}})
    with pytest.raises(helm.HelmError, match="caBundle"):
        render({"tls": {"mode": "secret", "secret": {"name": "x"}}})


def test_audit_mode():
    docs = render(VALUE_SETS["audit"])
    assert landed_config(docs)["mode"] == "audit"
    assert find(docs, "MutatingWebhookConfiguration") == []


def test_pinning_adds_the_mutating_webhook():
    docs = render(VALUE_SETS["pinning"])
    mwc = one(docs, "MutatingWebhookConfiguration")["webhooks"][0]
    vwc = one(docs, "ValidatingWebhookConfiguration")["webhooks"][0]
    assert mwc["clientConfig"]["service"]["path"] == "/mutate"
    assert mwc["failurePolicy"] == "Ignore"
    assert mwc["reinvocationPolicy"] == "IfNeeded"
    assert mwc["rules"] == vwc["rules"]
    assert mwc["clientConfig"]["caBundle"] == vwc["clientConfig"]["caBundle"]


def test_audit_events_background_scan_and_policy_reports():
    docs = render(VALUE_SETS["audit-events-scan-reports"])
    assert landed_config(docs)["audit"] == {
        "events": True,
        "backgroundScan": {"interval": "10m"},
        "policyReports": True,
        "reports": "openreports",
    }
    # The rules each part needs: test_rbac.py.
    assert find(docs, "PolicyReport") == [] and find(docs, "Report") == []  # the server writes them
    pod = one(docs, "Deployment")["spec"]["template"]
    assert pod["spec"]["automountServiceAccountToken"] is True
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/scheme"] == "https"
    assert annotations["prometheus.io/port"] == "8443"
    assert annotations["prometheus.io/path"] == "/metrics"

    only_scan = render({"audit": {"backgroundScan": {"interval": "5m"}}})
    assert landed_config(only_scan)["audit"] == {"backgroundScan": {"interval": "5m"}}
    # All off: no audit section in landed.yaml.
    defaults = render({})
    assert "audit" not in landed_config(defaults)
    assert "prometheus.io/scrape" not in one(defaults, "Deployment")["spec"]["template"]["metadata"]["annotations"]


def test_service_monitor_verifies_the_serving_certificate():
    monitor = one(render(VALUE_SETS["everything-on"]), "ServiceMonitor")
    tls = monitor["spec"]["endpoints"][0]["tlsConfig"]
    assert monitor["spec"]["endpoints"][0]["scheme"] == "https"
    assert tls == {
        "serverName": f"landed.{NAMESPACE}.svc",
        "insecureSkipVerify": False,
        "ca": {"secret": {"name": "landed-tls", "key": "ca.crt"}},
    }
    # The self-signed Secret has that key, and the name is among the certificate's names.
    docs = render({"metrics": {"serviceMonitor": {"enabled": True}}})
    secret = one(docs, "Secret")
    assert secret["metadata"]["name"] == "landed-tls" and "ca.crt" in secret["data"]
    assert one(docs, "ServiceMonitor")["spec"]["endpoints"][0]["tlsConfig"]["ca"]["secret"]["name"] == "landed-tls"
    # An explicit CA, or the opt-in skip (then no CA at all).
    ca = {"configMap": {"name": "corp-ca", "key": "ca.crt"}}
    given = render({"tls": VALUE_SETS["existing-secret"]["tls"], "metrics": {"serviceMonitor": {"enabled": True, "ca": ca}}})
    assert one(given, "ServiceMonitor")["spec"]["endpoints"][0]["tlsConfig"]["ca"] == ca
    skip = render({"metrics": {"serviceMonitor": {"enabled": True, "insecureSkipVerify": True}}})
    assert one(skip, "ServiceMonitor")["spec"]["endpoints"][0]["tlsConfig"] == {
        "serverName": f"landed.{NAMESPACE}.svc",
        "insecureSkipVerify": True,
    }


def test_gke_workload_identity_and_config_values():
    docs = render(VALUE_SETS["gke"])
    sa = one(docs, "ServiceAccount")
    assert sa["metadata"]["name"] == "landed"
    assert sa["metadata"]["annotations"]["iam.gke.io/gcp-service-account"] == "landed@my-proj.iam.gserviceaccount.com"
    config = landed_config(docs)
    assert config["namespaces"]["staging"] == {"mode": "audit"}
    assert config["registries"][0] == {"host": "us-docker.pkg.dev", "auth": "gcp"}
    assert config["cache"]["tagTtl"] == "2m" and config["cache"]["digestTtl"] == "1h"


def test_everything_on():
    docs = render(VALUE_SETS["everything-on"])
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert pod["imagePullSecrets"] == [{"name": "ghcr-pull"}]
    config = landed_config(docs)
    assert config["dockerConfig"] == "/etc/landed-docker/.dockerconfigjson"
    mounts = {m["name"]: m for m in container(docs)["volumeMounts"]}
    assert mounts["docker-config"]["mountPath"] == "/etc/landed-docker"
    vwc = one(docs, "ValidatingWebhookConfiguration")["webhooks"][0]
    assert vwc["failurePolicy"] == "Fail" and vwc["timeoutSeconds"] == 5
    assert config["server"]["webhookTimeout"] == "5s"
    assert vwc["namespaceSelector"]["matchLabels"] == {"landed.dev/enabled": "true"}
    assert vwc["namespaceSelector"]["matchExpressions"][1]["key"] == "tier"
    conditions = {m["name"]: m["expression"] for m in vwc["matchConditions"]}
    # The API server skips landed only for annotated objects of the permitted requesters.
    skip = conditions["no-permitted-breakglass"]
    assert "'landed.dev/breakglass' in object.metadata.annotations" in skip
    assert 'request.userInfo.groups.exists(g, g in ["oncall@example.com"])' in skip
    assert 'request.userInfo.username in ["system:serviceaccount:kube-system:replicaset-controller"]' in skip
    assert config["breakglass"]["groups"] == ["oncall@example.com"]
    monitor = one(docs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["endpoints"][0]["port"] == "https"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= one(docs, "Service")["metadata"]["labels"].items()


def test_match_conditions_can_be_turned_off():
    docs = render(VALUE_SETS["single-replica-no-match-conditions"])
    assert "matchConditions" not in one(docs, "ValidatingWebhookConfiguration")["webhooks"][0]


@pytest.mark.parametrize(
    "values, message",
    [
        ({"tls": {"mode": "bogus"}}, "tls.mode"),
        ({"webhook": {"failurePolicy": "Maybe"}}, "failurePolicy"),
        ({"webhook": {"timeoutSeconds": 31}}, "timeoutSeconds"),
        ({"shutdownGraceSeconds": 30}, "terminationGracePeriodSeconds"),
        ({"config": {"server": {"listen": "0.0.0.0:1"}}}, "config.server"),
        ({"config": {"excludedNamespaces": ["a"]}}, "config.excludedNamespaces"),
        ({"config": {"audit": {"events": True}}}, "config.audit"),
        ({"audit": {"policyReports": True}}, "audit.backgroundScan.interval"),
        ({"audit": {"reports": "policyreport"}}, "audit.reports must be openreports or wgpolicyk8s"),
        ({"tls": {"mode": "secret", "secret": {"name": "x", "caBundle": FAKE_CA_B64}},
          "metrics": {"serviceMonitor": {"enabled": True}}}, "metrics.serviceMonitor.ca"),
        ({"networkPolicy": {"enabled": True, "ingress": {"from": [{"ipBlock": {"cidr": "172.16.0.0/28"}}]},
                            "egress": {"enabled": True, "dns": False}}}, "networkPolicy.egress.rules"),
        ({"networkPolicy": {"enabled": True}}, "networkPolicy.ingress.from is empty"),
        ({"webhook": {"matchConditions": {"skipBreakglass": True}}}, "config.breakglass.groups"),
        ({"server": {"clientAuth": {"enabled": True}}}, "server.clientAuth.caSecret"),
        ({"server": {"clientAuth": {"enabled": True, "caSecret": "a", "caConfigMap": "b"}}}, "exactly one"),
        ({"server": {"clientAuth": {"enabled": True, "caSecret": "a", "caKey": ""}}}, "server.clientAuth.caKey"),
        ({"server": {"clientAuth": {"enabled": True, "caSecret": "a"}},
          "metrics": {"serviceMonitor": {"enabled": True}}}, "metrics.serviceMonitor.clientCertificate"),
    ],
)
def test_inconsistent_values_fail_to_render(values, message):
    with pytest.raises(helm.HelmError, match=re.escape(message)):
        render(values)


# ----------------------------------------------------------------------------- the real server


def distinct_configs() -> list[str]:
    """Value sets with distinct landed.yaml (starting the server once per distinct config)."""
    seen: dict[str, str] = {}
    for name in sorted(VALUE_SETS):
        text = one(render(VALUE_SETS[name]), "ConfigMap")["data"]["landed.yaml"]
        seen.setdefault(text, name)
    return sorted(seen.values())


@pytest.mark.parametrize("name", distinct_configs())
def test_server_accepts_the_rendered_config(name, tmp_path):
    docs = render(VALUE_SETS[name])
    certs = landed_certs(tmp_path)
    client_ca, client = None, None
    if "clientCaFile" in landed_config(docs)["server"]:
        client_ca, *pair = client_pki(tmp_path)
        client = tuple(pair)
    config = write_local_config(docs, tmp_path, certs / "tls.crt", certs / "tls.key", client_ca)
    server = Server(config, tmp_path)
    try:
        status, body = server.get("/healthz", (certs / "ca.crt").read_text(), "localhost", client)
        assert status == 200, body
        status, body = server.get("/readyz", (certs / "ca.crt").read_text(), "localhost", client)
        ready = json.loads(body)
        assert set(ready) == {"ready"}, ready  # ready or not, no policy sources or errors
        # Prometheus metrics on the same HTTPS port and certificate (what the ServiceMonitor scrapes).
        status_metrics, metrics = server.get("/metrics", (certs / "ca.crt").read_text(), "localhost", client)
        assert status_metrics == 200 and b"# TYPE" in metrics, metrics[:200]
        # Policies load only where the built-ins were built (scripts/test builds them first).
        built = BUILT_POLICIES / "require_landed.wasm"
        if built.exists():
            assert status == 200 and ready["ready"] is True, ready
            # Every configured policy (built-ins by name, with their settings) loaded.
            loaded = dict(re.findall(rb'^landed_policy_loaded\{policy="([^"]+)"\} (\d)$', metrics, re.M))
            wanted = [p["name"] for p in yaml.safe_load(config.read_text())["policies"]]
            assert {name.decode(): v for name, v in loaded.items()} == {n: b"1" for n in wanted}, loaded
    finally:
        server.stop()
    assert server.proc.returncode == 0, "".join(server.log)


def test_helm_generated_certificate_is_served_and_trusted(tmp_path):
    """The self-signed Secret works with the server, and the webhook's caBundle verifies it
    for the Service's DNS name, as the API server would."""
    docs = render(VALUE_SETS["self-signed"])
    data = one(docs, "Secret")["data"]
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert.write_bytes(base64.b64decode(data["tls.crt"]))
    key.write_bytes(base64.b64decode(data["tls.key"]))
    config = write_local_config(docs, tmp_path, cert, key)
    ca_pem = base64.b64decode(one(docs, "ValidatingWebhookConfiguration")["webhooks"][0]["clientConfig"]["caBundle"]).decode()
    server = Server(config, tmp_path)
    try:
        status, _ = server.get("/healthz", ca_pem, f"landed.{NAMESPACE}.svc")
        assert status == 200
        with pytest.raises(ssl.SSLCertVerificationError):
            server.get("/healthz", ca_pem, "somewhere.else.svc")
    finally:
        server.stop()


# ----------------------------------------------------------------------------- certs/examples

EXAMPLES = ROOT / "certs" / "examples"


@pytest.mark.parametrize("name", ["values-self-signed.yaml", "values-cert-manager.yaml", "values-existing-secret.yaml"])
def test_certs_example_values_render(name):
    values = yaml.safe_load((EXAMPLES / name).read_text())
    if values["tls"]["mode"] == "secret":
        values["tls"]["secret"]["caBundle"] = FAKE_CA_B64  # given with --set in the example
    docs = render(values)
    one(docs, "ValidatingWebhookConfiguration")


def test_certs_example_manifests_match_the_chart_and_the_server():
    cm_docs = [d for d in yaml.safe_load_all((EXAMPLES / "cert-manager-certificate.yaml").read_text()) if d]
    chart_docs = render(VALUE_SETS["cert-manager"])
    for kind in ("Issuer", "Certificate"):
        by_name = {d["metadata"]["name"]: d["spec"] for d in find(chart_docs, kind)}
        for doc in find(cm_docs, kind):
            assert by_name[doc["metadata"]["name"]] == doc["spec"], doc["metadata"]["name"]

    vwc = yaml.safe_load((EXAMPLES / "validatingwebhookconfiguration.yaml").read_text())
    vwc["webhooks"][0]["clientConfig"]["caBundle"] = FAKE_CA_B64
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(vwc, version, strict=True)
    chart_vwc = one(render({}), "ValidatingWebhookConfiguration")["webhooks"][0]

    def expand(rules):
        return {(g, v, r, op) for rule in rules for g in rule["apiGroups"] for v in rule["apiVersions"]
                for r in rule["resources"] for op in rule["operations"]}

    assert expand(vwc["webhooks"][0]["rules"]) == expand(chart_vwc["rules"])
