"""The chart's security values reach the real server: client-certificate verification
(mTLS) and the limits against hostile clients."""

from __future__ import annotations

import socket
import ssl
import subprocess
import time

import helm_python as helm
import pytest

from support import (
    LANDED,
    Server,
    client_pki,
    container,
    landed_certs,
    landed_config,
    one,
    render,
    validate_strictly,
    write_local_config,
)

LIMITS = {
    "tlsHandshakeTimeout": "3s",
    "headerReadTimeout": "4s",
    "idleTimeout": "100s",
    "http2IdleTimeout": "110s",
    "maxConnectionAge": "10m",
    "requestTimeout": "15s",
    "maxConcurrentStreams": 50,
    "maxConnections": 256,
}


def test_unset_limits_leave_the_binary_defaults():
    server = landed_config(render({}))["server"]
    assert not set(LIMITS) & set(server), server
    assert "clientCaFile" not in server


def test_set_limits_are_rendered_as_given():
    docs = render({"server": {"limits": LIMITS}})
    validate_strictly(docs)
    server = landed_config(docs)["server"]
    assert {k: server[k] for k in LIMITS} == LIMITS
    # Only the ones set: one value alone leaves the others to the binary.
    alone = landed_config(render({"server": {"limits": {"maxConnections": 10}}}))["server"]
    assert alone["maxConnections"] == 10 and not (set(LIMITS) - {"maxConnections"}) & set(alone)


def start(docs, tmp_path, client_ca=None) -> tuple[Server, str]:
    certs = landed_certs(tmp_path)
    config = write_local_config(docs, tmp_path, certs / "tls.crt", certs / "tls.key", client_ca)
    return Server(config, tmp_path), (certs / "ca.crt").read_text()


def test_max_connections_reaches_the_server(tmp_path):
    docs = render({"server": {"limits": {"maxConnections": 2, "tlsHandshakeTimeout": "10s", "headerReadTimeout": "10s"}}})
    server, ca = start(docs, tmp_path)
    held = []
    try:
        # Two silent connections hold both slots (they are within the handshake timeout).
        held = [socket.create_connection(server.addr, timeout=5) for _ in range(2)]
        time.sleep(0.3)
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            server.get("/healthz", ca, "localhost")
        for s in held:
            s.close()
        held = []
        deadline = time.monotonic() + 5
        while True:  # the slots free as soon as the server sees the closes
            try:
                assert server.get("/healthz", ca, "localhost")[0] == 200
                break
            except (ssl.SSLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        for s in held:
            s.close()
        server.stop()


def test_the_binary_refuses_a_request_timeout_below_the_deadline(tmp_path):
    """The chart passes limits through; the server's own validation is the check."""
    docs = render({"server": {"limits": {"requestTimeout": "1s"}}})
    certs = landed_certs(tmp_path)
    config = write_local_config(docs, tmp_path, certs / "tls.crt", certs / "tls.key")
    run = subprocess.run([LANDED, "serve", "--config", config, "--listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert "server.requestTimeout" in run.stderr, run.stderr


# ----------------------------------------------------------------------------- mTLS

CLIENT_AUTH = {"server": {"clientAuth": {"enabled": True, "caSecret": "apiserver-client-ca", "caKey": "client-ca.pem"}}}


def test_client_ca_is_mounted_where_the_config_points():
    docs = render(CLIENT_AUTH)
    validate_strictly(docs)
    c = container(docs)
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    mount = {m["name"]: m for m in c["volumeMounts"]}["client-ca"]
    volume = {v["name"]: v for v in pod["volumes"]}["client-ca"]
    assert mount["readOnly"] is True and "subPath" not in mount  # updates reach the file
    assert volume["secret"] == {"secretName": "apiserver-client-ca", "items": [{"key": "client-ca.pem", "path": "client-ca.pem"}]}
    assert landed_config(docs)["server"]["clientCaFile"] == f"{mount['mountPath']}/client-ca.pem"
    assert c["readinessProbe"]["tcpSocket"] == {"port": "https"}

    from_map = render({"server": {"clientAuth": {"enabled": True, "caConfigMap": "apiserver-client-ca"}}})
    volume = {v["name"]: v for v in one(from_map, "Deployment")["spec"]["template"]["spec"]["volumes"]}["client-ca"]
    assert volume["configMap"] == {"name": "apiserver-client-ca", "items": [{"key": "ca.crt", "path": "ca.crt"}]}
    assert landed_config(from_map)["server"]["clientCaFile"].endswith("/ca.crt")


def test_only_clients_with_a_certificate_from_the_ca_get_through(tmp_path):
    """The rendered config with the CA the chart mounts: a client without a certificate, or
    with one from another CA, fails the handshake; the API server's certificate gets in."""
    docs = render(CLIENT_AUTH)
    client_ca, cert, key = client_pki(tmp_path, "apiserver")
    _, other_cert, other_key = client_pki(tmp_path, "stranger")
    server, ca = start(docs, tmp_path, client_ca)
    try:
        status, _ = server.get("/healthz", ca, "localhost", (cert, key))
        assert status == 200
        status, body = server.get("/metrics", ca, "localhost", (cert, key))
        assert status == 200 and b"# TYPE" in body
        for pair in (None, (other_cert, other_key)):
            # TLS 1.3 reports the refusal on the first read, 1.2 during the handshake.
            with pytest.raises((ssl.SSLError, ConnectionError)):
                server.get("/healthz", ca, "localhost", pair)
    finally:
        server.stop()
    assert server.proc.returncode == 0, "".join(server.log)


# ----------------------------------------------------------------------------- NetworkPolicy

API_SERVER = [{"ipBlock": {"cidr": "172.16.0.0/28"}}, {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "konnectivity-agent"}},
}]
PROMETHEUS = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]


def policy(values: dict) -> tuple[dict, list[dict]]:
    docs = render({"networkPolicy": {"enabled": True, **values}})
    validate_strictly(docs)
    return one(docs, "NetworkPolicy")["spec"], docs


def test_no_network_policy_by_default():
    assert [d for d in render({}) if d["kind"] == "NetworkPolicy"] == []


def test_ingress_only_to_the_serving_port_of_the_webhook_pods():
    spec, docs = policy({"ingress": {"from": API_SERVER}})
    pod = one(docs, "Deployment")["spec"]["template"]
    # It selects exactly the webhook pods, and the port is the one the Service targets.
    assert spec["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert spec["podSelector"]["matchLabels"] == one(docs, "Service")["spec"]["selector"]
    assert spec["policyTypes"] == ["Ingress"]  # egress left open
    port = container(docs)["ports"][0]["containerPort"]
    assert spec["ingress"] == [{"ports": [{"port": port, "protocol": "TCP"}], "from": API_SERVER}]
    assert "egress" not in spec


def test_ingress_peers_are_the_api_server_and_prometheus():
    spec, _ = policy({"ingress": {"from": API_SERVER}, "metrics": {"from": PROMETHEUS}})
    assert spec["ingress"] == [{"ports": [{"port": 8443, "protocol": "TCP"}], "from": API_SERVER + PROMETHEUS}]


@pytest.mark.parametrize("values", [{}, {"ingress": {"from": []}}, {"metrics": {"from": PROMETHEUS}}])
def test_an_empty_ingress_from_is_refused_rather_than_open_to_every_source(values):
    """A rule with ports but no peers admits every source; the chart refuses to render it and
    says where the API server's range comes from on GKE. Metrics peers alone do not count."""
    with pytest.raises(helm.HelmError) as refused:
        render({"networkPolicy": {"enabled": True, **values}})
    message = str(refused.value)
    assert "networkPolicy.ingress.from" in message and "master-ipv4-cidr" in message, message


def test_egress_when_asked_dns_and_the_given_rules():
    rules = [
        {"ports": [{"port": 443, "protocol": "TCP"}]},
        {"to": [{"ipBlock": {"cidr": "169.254.169.254/32"}}], "ports": [{"port": 80, "protocol": "TCP"}]},
    ]
    spec, _ = policy({"ingress": {"from": API_SERVER}, "egress": {"enabled": True, "rules": rules}})
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    dns = {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}
    assert spec["egress"] == [dns] + rules
    spec, _ = policy({"ingress": {"from": API_SERVER}, "egress": {"enabled": True, "dns": False, "rules": rules}})
    assert spec["egress"] == rules
