"""Shared helpers of the chart tests: rendering with the Helm SDK, picking manifests, the
Kubernetes schema check, and the real `landed serve` started with a rendered landed.yaml."""

from __future__ import annotations

import http.client
import json
import os
import queue
import signal
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "landed"
LANDED = Path(os.environ.get("LANDED_BIN", ROOT / "target" / "debug" / "landed"))
RELEASE = "landed"
NAMESPACE = "landed"

# Schemas checked: the oldest release where matchConditions are GA, and the newest that
# kubernetes-validate ships.
K8S_VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]

# Custom resources have no schema in kubernetes-validate: these kinds are checked by
# assertions instead of by schema, and nothing else may be skipped.
CRD_KINDS = {
    ("cert-manager.io/v1", "Issuer"),
    ("cert-manager.io/v1", "ClusterIssuer"),
    ("cert-manager.io/v1", "Certificate"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}

# Where the built-in policies are when scripts/test (policies/build.sh) has built them.
BUILT_POLICIES = ROOT / "policies" / "target" / "components"


def render(values: dict) -> list[dict]:
    """Every manifest the chart renders for `values` (NOTES.txt left out)."""
    with helm.Chart.load(CHART) as chart:
        files = chart.render(values, name=RELEASE, namespace=NAMESPACE)
    docs = []
    for name, text in sorted(files.items()):
        if name.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                doc["__file"] = name
                docs.append(doc)
    return docs


def strip(doc: dict) -> dict:
    """The manifest without the test's own `__file` key."""
    return {k: v for k, v in doc.items() if k != "__file"}


def find(docs: list[dict], kind: str, name: str | None = None) -> list[dict]:
    """Manifests of `kind` (and `name`, if given)."""
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def one(docs: list[dict], kind: str) -> dict:
    """The only manifest of `kind`."""
    found = find(docs, kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def config_map(docs: list[dict]) -> dict:
    """The ConfigMap holding landed.yaml (the dashboard's ConfigMap may be rendered too)."""
    found = [d for d in find(docs, "ConfigMap") if "landed.yaml" in d.get("data", {})]
    assert len(found) == 1, f"expected one landed.yaml ConfigMap, got {len(found)}"
    return found[0]


def landed_config(docs: list[dict]) -> dict:
    """The landed.yaml of the rendered ConfigMap, parsed."""
    return yaml.safe_load(config_map(docs)["data"]["landed.yaml"])


def container(docs: list[dict]) -> dict:
    """The Deployment's landed container."""
    return one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def validate_strictly(docs: list[dict]) -> int:
    """Checks every non-CRD manifest against the Kubernetes schemas; returns how many."""
    checked = 0
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in CRD_KINDS:
            continue
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(strip(doc), version, strict=True)
            except kubernetes_validate.ValidationError as e:
                pytest.fail(f"{doc['__file']} {doc['kind']}/{doc['metadata']['name']} (k8s {version}): {e.message} at {list(e.path)}")
        checked += 1
    return checked


def granted(docs: list[dict]) -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) for every rule of every ClusterRole and Role rendered."""
    out = set()
    for role in find(docs, "ClusterRole") + find(docs, "Role"):
        for rule in role.get("rules", []):
            assert "resourceNames" not in rule and "nonResourceURLs" not in rule, rule
            for g in rule["apiGroups"]:
                for r in rule["resources"]:
                    for v in rule["verbs"]:
                        out.add((g, r, v))
    return out


class Server:
    """The landed binary serving a config on 127.0.0.1 (port from its JSON log)."""

    def __init__(self, config: Path, tmp: Path, env: dict[str, str] | None = None):
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("LANDED_", "GOOGLE_", "KUBE"))}
        clean.update(LANDED_LOG_FORMAT="json", POD_NAMESPACE=NAMESPACE, HOME=str(tmp))
        clean.update(env or {})
        self.proc = subprocess.Popen(
            [LANDED, "serve", "--config", config, "--listen", "127.0.0.1:0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=clean,
        )
        self.lines: queue.Queue = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.addr = self._wait_listening()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.put(line)
        self.lines.put(None)

    def _wait_listening(self) -> tuple[str, int]:
        while True:
            try:
                line = self.lines.get(timeout=120)
            except queue.Empty:
                raise AssertionError("landed did not start listening in 120 s:\n" + "".join(self.log))
            if line is None:
                raise AssertionError(f"landed exited with {self.proc.wait()}:\n" + "".join(self.log))
            self.log.append(line)
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if event.get("message") == "serving HTTPS":
                host, port = event["addr"].rsplit(":", 1)
                return host, int(port)

    def request(
        self,
        method: str,
        path: str,
        ca_pem: str,
        server_name: str,
        body: bytes | None = None,
        client_cert: tuple[Path, Path] | None = None,
    ) -> tuple[int, bytes]:
        """One HTTPS request verifying the certificate for `server_name` while connecting to
        127.0.0.1, optionally presenting a client certificate (cert, key)."""
        context = ssl.create_default_context(cadata=ca_pem)
        if client_cert:
            context.load_cert_chain(*client_cert)
        conn = http.client.HTTPSConnection(self.addr[0], self.addr[1], context=context, timeout=10)
        conn.sock = context.wrap_socket(socket.create_connection(self.addr, timeout=10), server_hostname=server_name)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, data

    def get(self, path: str, ca_pem: str, server_name: str, client_cert: tuple[Path, Path] | None = None) -> tuple[int, bytes]:
        """GET `path` over HTTPS."""
        return self.request("GET", path, ca_pem, server_name, client_cert=client_cert)

    def stop(self):
        """SIGTERM, then wait (kill after 30 s)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def write_local_config(docs: list[dict], tmp: Path, cert: Path, key: Path, client_ca: Path | None = None) -> Path:
    """The ConfigMap's landed.yaml with file paths moved into `tmp`, everything else as is."""
    text = config_map(docs)["data"]["landed.yaml"]
    config = yaml.safe_load(text)
    config["server"]["tlsCertFile"] = str(cert)
    config["server"]["tlsKeyFile"] = str(key)
    if "clientCaFile" in config["server"]:
        assert client_ca, "the rendered config asks for client certificates: give the CA"
        config["server"]["clientCaFile"] = str(client_ca)
    if "dockerConfig" in config:
        docker = tmp / "docker-config.json"
        docker.write_text('{"auths": {}}')
        config["dockerConfig"] = str(docker)
    path = tmp / "landed.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def landed_certs(tmp: Path) -> Path:
    """A CA and a serving certificate for localhost from `landed certs`."""
    out = tmp / "certs"
    subprocess.run([LANDED, "certs", "--out", out, "--dns", "localhost", "--dns", "127.0.0.1"], check=True, capture_output=True)
    return out


def client_pki(tmp: Path, name: str = "client") -> tuple[Path, Path, Path]:
    """A CA and a client certificate (extendedKeyUsage clientAuth) it signed, made with
    openssl: (ca.crt, client.crt, client.key)."""
    out = tmp / name
    out.mkdir()
    ca_crt, ca_key = out / "ca.crt", out / "ca.key"
    crt, key, csr, ext = out / "client.crt", out / "client.key", out / "client.csr", out / "ext.cnf"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run = lambda *args: subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", *ec, "-keyout", ca_key, "-out", ca_crt, "-days", "1", "-subj", f"/CN={name} CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=kube-apiserver")
    ext.write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n")
    run("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial", "-out", crt, "-days", "1", "-extfile", ext)
    return ca_crt, crt, key
