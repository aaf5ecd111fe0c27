#!/usr/bin/env python3
"""Writes the benchmark corpus: AdmissionReview v1 bodies as the kube-apiserver sends them.

Usage: bench/data/generate.py   (rewrites bench/data/*.json; read them with `jq . FILE`)

Each file is one line of compact JSON, keys in the order Go's encoding/json writes the
Kubernetes structs (TypeMeta's kind before apiVersion, ObjectMeta's name, generateName,
namespace, uid, ... managedFields), with the defaults the API server applies and what its
admission plugins add (apiserver.py). Image references name the registry as {{REGISTRY}}, which the load
bench and the criterion benches replace with their registry's host. bench/data/README.md says
how each review is shaped and why.
"""
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ beside the corpus
from apiserver import (admitted_pod_spec, defaulted_container, defaulted_spec, fields,
                       last_applied, managed, options, review)

R = "{{REGISTRY}}"
HERE = os.path.dirname(os.path.abspath(__file__))

# One rollout of the Deployment shop/checkout: checkout 1.14.1 -> 1.14.2. The ReplicaSet of
# the new template creates the Pods; its pod-template-hash names them.
OLD_TAG, NEW_TAG = "1.14.1", "1.14.2"
HASH = "6f9d8c7b54"
DEPLOYMENT_UID = "3c1f7e2a-8d4b-4f0e-9a61-5b2d7c9e0f13"
REPLICASET_UID = "b7e4a0d2-1c3f-4e85-a9d6-72f0c4b18e5a"
CREATED = "2025-03-02T10:41:17Z"
ROLLOUT = "2025-05-14T09:12:44Z"


# --- the checkout pod template, as written and as stored ----------------------------------

def env_field(name, path):
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def http_probe(path, port, **timing):
    return {"httpGet": {"path": path, "port": port}, **timing}


def hardened():
    return {"capabilities": {"drop": ["ALL"]}, "runAsUser": 10001, "runAsNonRoot": True,
            "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False}


def template_spec(tag):
    """The pod spec of the checkout Deployment as its manifest writes it (no defaults)."""
    wait_for = {
        "name": "wait-for-db", "image": f"{R}/bench/wait-for:1.2.0",
        "args": ["--timeout=120s", "tcp://checkout-db.shop.svc:5432"],
        "resources": {"limits": {"cpu": "100m", "memory": "32Mi"},
                      "requests": {"cpu": "10m", "memory": "16Mi"}},
        "securityContext": hardened(),
    }
    checkout = {
        "name": "checkout", "image": f"{R}/bench/checkout:{tag}",
        "args": ["serve", "--config=/etc/checkout/checkout.yaml", "--listen=:8080"],
        "ports": [{"name": "http", "containerPort": 8080},
                  {"name": "metrics", "containerPort": 9090}],
        "envFrom": [{"configMapRef": {"name": "checkout-env"}}],
        "env": [
            env_field("POD_NAME", "metadata.name"),
            env_field("POD_NAMESPACE", "metadata.namespace"),
            env_field("POD_IP", "status.podIP"),
            env_field("NODE_NAME", "spec.nodeName"),
            {"name": "GOMAXPROCS", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
            {"name": "GOMEMLIMIT", "value": "460MiB"},
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "OTEL_SERVICE_NAME", "value": "checkout"},
            {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "http://otel-collector.observability.svc:4317"},
            {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "checkout-db", "key": "url"}}},
            {"name": "PAYMENTS_API_KEY", "valueFrom": {"secretKeyRef": {"name": "checkout-payments", "key": "api-key"}}},
        ],
        "resources": {"limits": {"cpu": "1", "memory": "512Mi"},
                      "requests": {"cpu": "250m", "memory": "512Mi"}},
        "volumeMounts": [{"name": "config", "mountPath": "/etc/checkout", "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}],
        "livenessProbe": http_probe("/healthz", "http", periodSeconds=10, failureThreshold=3),
        "readinessProbe": http_probe("/readyz", "http", periodSeconds=5),
        "startupProbe": http_probe("/healthz", "http", periodSeconds=2, failureThreshold=30),
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}},
        "securityContext": hardened(),
    }
    envoy = {
        "name": "envoy", "image": f"{R}/bench/envoy:1.29.3",
        "args": ["-c", "/etc/envoy/envoy.yaml", "--log-level", "warn", "--drain-time-s", "20"],
        "ports": [{"name": "https", "containerPort": 8443},
                  {"name": "envoy-admin", "containerPort": 9901}],
        "resources": {"limits": {"cpu": "500m", "memory": "128Mi"},
                      "requests": {"cpu": "100m", "memory": "128Mi"}},
        "volumeMounts": [{"name": "envoy-config", "mountPath": "/etc/envoy", "readOnly": True},
                         {"name": "tls", "mountPath": "/etc/tls", "readOnly": True}],
        "readinessProbe": http_probe("/ready", 9901, periodSeconds=5),
        "lifecycle": {"preStop": {"exec": {"command": [
            "curl", "-s", "-XPOST", "http://127.0.0.1:9901/drain_listeners?graceful"]}}},
        "securityContext": hardened(),
    }
    return {
        "volumes": [
            {"name": "config", "configMap": {"name": "checkout-config"}},
            {"name": "envoy-config", "configMap": {"name": "checkout-envoy"}},
            {"name": "tls", "secret": {"secretName": "checkout-tls"}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
        ],
        "initContainers": [wait_for],
        "containers": [checkout, envoy],
        "terminationGracePeriodSeconds": 45,
        "serviceAccountName": "checkout",
        "securityContext": {"fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
        "imagePullSecrets": [{"name": "registry-pull"}],
        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
            "weight": 100, "podAffinityTerm": {
                "labelSelector": {"matchLabels": {"app": "checkout"}},
                "topologyKey": "kubernetes.io/hostname"}}]}},
        "topologySpreadConstraints": [{
            "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"app": "checkout"}}}],
    }


# Go's field order of the Container and PodSpec structs.


LABELS = dict(sorted({"app": "checkout", "app.kubernetes.io/name": "checkout",
                      "app.kubernetes.io/part-of": "shop",
                      "app.kubernetes.io/component": "api"}.items()))
TEMPLATE_ANNOTATIONS = dict(sorted({"prometheus.io/scrape": "true", "prometheus.io/port": "9090",
                                    "cluster-autoscaler.kubernetes.io/safe-to-evict": "true"}.items()))


# --- the reviews ----------------------------------------------------------------------------

def pod_small():
    """Today's load-bench review (bench/src/warm.rs before the corpus): the e2e fixture's Pod
    with three containers, compact JSON with sorted keys as serde_json writes it."""
    containers = [{"name": n, "image": f"{R}/bench/{n}:v1"} for n in ("api", "worker", "sidecar")]
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "5a1d9e0c-3b7f-4c2a-8e61-0f4b2d9c7a11",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
        "requestResource": {"group": "", "version": "v1", "resource": "pods"},
        "name": "web", "namespace": "shop", "operation": "CREATE",
        "userInfo": {"username": "alice@example.com", "groups": ["system:authenticated"]},
        "object": {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
                   "spec": {"containers": containers}},
        "oldObject": None, "dryRun": False,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}}}


def pod_replicaset():
    name = f"checkout-{HASH}-q7x2m"
    labels = {**LABELS, "pod-template-hash": HASH}
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"checkout-{HASH}",
             "uid": REPLICASET_UID, "controller": True, "blockOwnerDeletion": True}
    template = defaulted_spec(template_spec(NEW_TAG))
    # The controller's fields: what it sent, defaults included; admission plugins came after.
    owned = fields({"metadata": {"generateName": "", "labels": labels,
                                 "annotations": TEMPLATE_ANNOTATIONS,
                                 "ownerReferences": [owner]},
                    "spec": template}, top=True)
    metadata = {
        "name": name, "generateName": f"checkout-{HASH}-", "namespace": "shop",
        "uid": "e2d5c8a1-6f3b-4b9e-8c07-4a1f9d3e6b25", "creationTimestamp": "2025-05-14T09:12:51Z",
        "labels": labels, "annotations": TEMPLATE_ANNOTATIONS, "ownerReferences": [owner],
        "managedFields": [managed("kube-controller-manager", "v1", "2025-05-14T09:12:51Z", owned)],
    }
    pod = {"kind": "Pod", "apiVersion": "v1", "metadata": metadata,
           "spec": admitted_pod_spec(template, "kube-api-access-7xk4p"),
           "status": {"phase": "Pending", "qosClass": "Burstable"}}
    user = {"username": "system:serviceaccount:kube-system:replicaset-controller",
            "uid": "0b4e7c29-91d3-4f6a-b8e2-5c3a1d7f9e04",
            "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system",
                       "system:authenticated"],
            "extra": {"authentication.kubernetes.io/credential-id": [
                "JTI=8f2c6a4e-3d1b-4e7f-a905-6b2d8c4f1e37"]}}
    return review("f1c9a3e7-2b5d-4c8f-9e16-3a7d0b4c8e52", ("", "v1", "Pod"), "pods", "CREATE",
                  user, pod, options=options("CreateOptions"))


def deployment_manifest(tag):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"annotations": {}, "labels": LABELS, "name": "checkout", "namespace": "shop"},
            "spec": {"replicas": 6, "selector": {"matchLabels": {"app": "checkout"}},
                     "template": {"metadata": {"labels": {**LABELS},
                                               "annotations": TEMPLATE_ANNOTATIONS},
                                  "spec": template_spec(tag)}}}


def deployment(tag, generation, applied_at):
    manifest = deployment_manifest(tag)
    # The controller bumps the revision once the rollout starts: both objects carry the old one.
    annotations = {"deployment.kubernetes.io/revision": "7",
                   "kubectl.kubernetes.io/last-applied-configuration": last_applied(manifest)}
    spec = {"replicas": 6, "selector": manifest["spec"]["selector"],
            "template": {"metadata": {"creationTimestamp": None, "labels": LABELS,
                                      "annotations": TEMPLATE_ANNOTATIONS},
                         "spec": defaulted_spec(template_spec(tag))},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600}
    conditions = [
        {"type": "Available", "status": "True", "lastUpdateTime": "2025-05-09T16:03:28Z",
         "lastTransitionTime": "2025-05-09T16:03:28Z", "reason": "MinimumReplicasAvailable",
         "message": "Deployment has minimum availability."},
        {"type": "Progressing", "status": "True", "lastUpdateTime": "2025-05-12T14:27:09Z",
         "lastTransitionTime": CREATED, "reason": "NewReplicaSetAvailable",
         "message": 'ReplicaSet "checkout-85c6f4d9b7" has successfully progressed.'}]
    status = {"observedGeneration": 7, "replicas": 6, "updatedReplicas": 6,
              "readyReplicas": 6, "availableReplicas": 6, "conditions": conditions}
    kubectl = fields({"metadata": {"annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": ""}, "labels": LABELS},
        "spec": spec}, top=True)
    revision = fields({"metadata": {"annotations": {"deployment.kubernetes.io/revision": ""}}}, top=True)
    status_fields = fields({"status": status}, top=True)
    metadata = {
        "name": "checkout", "namespace": "shop", "uid": DEPLOYMENT_UID,
        "resourceVersion": "48213377", "generation": generation, "creationTimestamp": CREATED,
        "labels": LABELS, "annotations": annotations,
        "managedFields": [
            managed("kubectl-client-side-apply", "apps/v1", applied_at, kubectl),
            managed("kube-controller-manager", "apps/v1", "2025-05-12T14:26:41Z", revision),
            managed("kube-controller-manager", "apps/v1", "2025-05-12T14:27:09Z",
                    status_fields, subresource="status"),
        ]}
    return {"kind": "Deployment", "apiVersion": "apps/v1", "metadata": metadata, "spec": spec,
            "status": status}


def deployment_update_apply():
    new = deployment(NEW_TAG, 8, ROLLOUT)
    old = deployment(OLD_TAG, 7, "2025-05-12T14:26:41Z")
    user = {"username": "jane.doe@example.com",
            "groups": ["oidc:shop-developers", "system:authenticated"]}
    return review("9d4b2f6e-7a1c-4e3b-b582-c0e6f1a93d47", ("apps", "v1", "Deployment"),
                  "deployments", "UPDATE", user, new, old=old, name="checkout",
                  options=options("UpdateOptions", "kubectl-client-side-apply"))


def cronjob_create():
    labels = {"app": "nightly-report", "app.kubernetes.io/part-of": "shop"}
    container = {
        "name": "report", "image": f"{R}/bench/report:2.3.0",
        "args": ["nightly", "--since=24h", "--upload=gs://shop-reports/nightly"],
        "env": [{"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "report-db", "key": "url"}}},
                {"name": "LOG_FORMAT", "value": "json"}],
        "resources": {"limits": {"cpu": "1", "memory": "1Gi"},
                      "requests": {"cpu": "200m", "memory": "1Gi"}},
        "securityContext": hardened(),
    }
    template = {"metadata": {"labels": labels},
                "spec": {"containers": [container], "restartPolicy": "OnFailure",
                         "serviceAccountName": "nightly-report"}}
    job = {"backoffLimit": 2, "activeDeadlineSeconds": 3600, "ttlSecondsAfterFinished": 86400,
           "template": template}
    manifest = {"apiVersion": "batch/v1", "kind": "CronJob",
                "metadata": {"annotations": {}, "labels": labels, "name": "nightly-report",
                             "namespace": "shop"},
                "spec": {"schedule": "15 2 * * *", "timeZone": "Europe/Berlin",
                         "concurrencyPolicy": "Forbid", "startingDeadlineSeconds": 600,
                         "jobTemplate": {"spec": job}}}
    stored_pod = {"containers": [defaulted_container(container)], "restartPolicy": "OnFailure",
                  "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
                  "serviceAccountName": "nightly-report", "serviceAccount": "nightly-report",
                  "securityContext": {}, "schedulerName": "default-scheduler"}
    spec = {"schedule": "15 2 * * *", "timeZone": "Europe/Berlin", "startingDeadlineSeconds": 600,
            "concurrencyPolicy": "Forbid", "suspend": False,
            "jobTemplate": {"metadata": {"creationTimestamp": None}, "spec": {
                "activeDeadlineSeconds": 3600, "backoffLimit": 2,
                "template": {"metadata": {"creationTimestamp": None, "labels": labels},
                             "spec": stored_pod},
                "ttlSecondsAfterFinished": 86400}},
            "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1}
    annotations = {"kubectl.kubernetes.io/last-applied-configuration": last_applied(manifest)}
    owned = fields({"metadata": {"annotations": {k: "" for k in annotations}, "labels": labels},
                    "spec": spec}, top=True)
    metadata = {"name": "nightly-report", "namespace": "shop",
                "uid": "4a8c2e6f-0d3b-4f71-9c5e-8b1d7a2f6c39", "generation": 1,
                "creationTimestamp": "2025-05-14T11:02:05Z", "labels": labels,
                "annotations": annotations,
                "managedFields": [managed("kubectl-client-side-apply", "batch/v1",
                                          "2025-05-14T11:02:05Z", owned)]}
    cronjob = {"kind": "CronJob", "apiVersion": "batch/v1", "metadata": metadata, "spec": spec,
               "status": {}}
    user = {"username": "system:serviceaccount:ci:deployer",
            "uid": "7e3a9c1f-5b2d-4f8e-a064-1c9d3b7e5f28",
            "groups": ["system:serviceaccounts", "system:serviceaccounts:ci",
                       "system:authenticated"]}
    return review("2e7f1b9d-4c6a-4d3e-8f25-a1b9c0d7e463", ("batch", "v1", "CronJob"),
                  "cronjobs", "CREATE", user, cronjob, name="nightly-report",
                  options=options("CreateOptions", "kubectl-client-side-apply"))


CORPUS = {
    "pod-small.json": (pod_small, True),
    "pod-replicaset.json": (pod_replicaset, False),
    "deployment-update-apply.json": (deployment_update_apply, False),
    "cronjob-create.json": (cronjob_create, False),
}

if __name__ == "__main__":
    for file, (make, sort_keys) in CORPUS.items():
        text = json.dumps(make(), separators=(",", ":"), sort_keys=sort_keys, ensure_ascii=False)
        with open(os.path.join(HERE, file), "w", encoding="utf-8") as f:
            f.write(text)
        print(f"{file}: {len(text)} bytes")
