"""What the kube-apiserver does to an object before a validating webhook sees it, and how it
encodes the review: the AdmissionReview envelope, the defaults of the pod spec's types, what
the admission plugins add to a Pod, managedFields (FieldsV1) and kubectl's last-applied
annotation. Used by generate.py; Go's encoding/json field order is kept throughout.
"""
import json


def review(uid, gvk, resource, operation, user, obj, old=None, name=None, options=None):
    """An AdmissionReview as the API server encodes admission.k8s.io/v1 (AdmissionRequest)."""
    group, version, kind = gvk
    request = {"uid": uid}
    request["kind"] = {"group": group, "version": version, "kind": kind}
    request["resource"] = {"group": group, "version": version, "resource": resource}
    request["requestKind"] = dict(request["kind"])
    request["requestResource"] = dict(request["resource"])
    if name:  # omitempty: a Pod named by generateName reaches validating webhooks nameless
        request["name"] = name
    request["namespace"] = "shop"
    request["operation"] = operation
    request["userInfo"] = user
    request["object"] = obj
    request["oldObject"] = old
    request["dryRun"] = False
    request["options"] = options
    return {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": request}


def options(kind, field_manager=None):
    opts = {"kind": kind, "apiVersion": "meta.k8s.io/v1"}
    if field_manager:
        opts["fieldManager"] = field_manager
        opts["fieldValidation"] = "Strict"  # kubectl's default --validate=strict
    return opts


# --- managedFields: FieldsV1 as the API server's field manager writes it -------------------

# Lists merged by key (the +listMapKey of the Kubernetes types) and atomic values.
LIST_KEYS = {
    "containers": ["name"], "initContainers": ["name"], "env": ["name"],
    "ports": ["containerPort", "protocol"], "volumeMounts": ["mountPath"],
    "volumes": ["name"], "imagePullSecrets": ["name"], "ownerReferences": ["uid"],
    "conditions": ["type"], "topologySpreadConstraints": ["topologyKey", "whenUnsatisfiable"],
}
ATOMIC_ITEMS = {"imagePullSecrets", "ownerReferences"}
REQUIRED_LISTS = {"containers"}  # never omitted: no "." entry of their own
ATOMIC = {"args", "command", "envFrom", "tolerations", "fieldRef", "secretKeyRef",
          "resourceFieldRef", "configMapKeyRef", "selector", "labelSelector", "drop", "items",
          "preferredDuringSchedulingIgnoredDuringExecution",
          "requiredDuringSchedulingIgnoredDuringExecution"}


# Struct fields that are values, not pointers: their node has no "." entry of its own.
VALUE_STRUCTS = {"metadata", "spec", "template", "strategy", "status"}


def fields(obj, top=False):
    """The field set of a JSON object: {"f:name": ...} with "." for an owned map or item."""
    out = {} if top else {".": {}}
    for key, value in obj.items():
        if value is not None:  # null (a template's creationTimestamp) is no field
            out["f:" + key] = field(key, value)
    return dict(sorted(out.items()))


def field(key, value):
    if key in ATOMIC or not isinstance(value, (dict, list)) or not value:
        return {}
    if isinstance(value, dict):
        owned = fields(value)
        if key in VALUE_STRUCTS:
            del owned["."]
        return owned
    keys = LIST_KEYS[key]
    items = {} if key in REQUIRED_LISTS else {".": {}}
    for item in value:
        name = "k:" + json.dumps({k: item[k] for k in sorted(keys)}, separators=(",", ":"))
        items[name] = {} if key in ATOMIC_ITEMS else fields(item)
    return dict(sorted(items.items()))


def managed(manager, api_version, time, owned, subresource=None):
    entry = {"manager": manager, "operation": "Update", "apiVersion": api_version,
             "time": time, "fieldsType": "FieldsV1", "fieldsV1": owned}
    if subresource:
        entry["subresource"] = subresource
    return entry


CONTAINER_ORDER = ["name", "image", "command", "args", "workingDir", "ports", "envFrom", "env",
                   "resources", "volumeMounts", "livenessProbe", "readinessProbe",
                   "startupProbe", "lifecycle", "terminationMessagePath",
                   "terminationMessagePolicy", "imagePullPolicy", "securityContext"]
SPEC_ORDER = ["volumes", "initContainers", "containers", "restartPolicy",
              "terminationGracePeriodSeconds", "dnsPolicy", "serviceAccountName",
              "serviceAccount", "securityContext", "imagePullSecrets", "affinity",
              "schedulerName", "tolerations", "priority", "enableServiceLinks",
              "preemptionPolicy", "topologySpreadConstraints"]
PROBE_DEFAULTS = {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1,
                  "failureThreshold": 3}


def ordered(obj, order):
    return {k: obj[k] for k in order if k in obj}


def defaulted_container(c):
    c = json.loads(json.dumps(c))
    for port in c.get("ports", []):
        port["protocol"] = "TCP"
    for env in c.get("env", []):
        ref = env.get("valueFrom", {})
        if "fieldRef" in ref:
            ref["fieldRef"] = {"apiVersion": "v1", **ref["fieldRef"]}
        if "resourceFieldRef" in ref:
            ref["resourceFieldRef"]["divisor"] = "0"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if probe in c:
            given = c[probe]
            c[probe] = {"httpGet": {**given["httpGet"], "scheme": "HTTP"},
                        **{k: given.get(k, v) for k, v in PROBE_DEFAULTS.items()}}
    c.update({"terminationMessagePath": "/dev/termination-log",
              "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"})
    return ordered(c, CONTAINER_ORDER)


def defaulted_spec(spec):
    """What the API server stores for a template: the defaults of the pod spec's types."""
    spec = json.loads(json.dumps(spec))
    for volume in spec["volumes"]:
        for source in ("configMap", "secret"):
            if source in volume:
                volume[source]["defaultMode"] = 420
    spec["initContainers"] = [defaulted_container(c) for c in spec["initContainers"]]
    spec["containers"] = [defaulted_container(c) for c in spec["containers"]]
    spec.update({"restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
                 "serviceAccount": spec["serviceAccountName"],
                 "schedulerName": "default-scheduler"})
    return ordered(spec, SPEC_ORDER)


def admitted_pod_spec(spec, token_volume):
    """A Pod's spec after the API server's admission plugins: ServiceAccount (the projected
    token volume, mounted in every container), DefaultTolerationSeconds, Priority."""
    spec = json.loads(json.dumps(spec))
    spec["volumes"].append({"name": token_volume, "projected": {"sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ], "defaultMode": 420}})
    for group in ("initContainers", "containers"):
        for c in spec[group]:
            c.setdefault("volumeMounts", []).append({
                "name": token_volume, "readOnly": True,
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"})
        spec[group] = [ordered(c, CONTAINER_ORDER) for c in spec[group]]
    spec["tolerations"] = [
        {"key": f"node.kubernetes.io/{taint}", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300} for taint in ("not-ready", "unreachable")]
    spec.update({"priority": 0, "enableServiceLinks": True,
                 "preemptionPolicy": "PreemptLowerPriority"})
    return ordered(spec, SPEC_ORDER)


# Go writes a map[string]string with its keys sorted.


def last_applied(manifest):
    """kubectl's annotation: the applied manifest as Go marshals a map (sorted keys) + \\n."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":")) + "\n"
