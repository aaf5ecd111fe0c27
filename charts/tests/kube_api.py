"""A Kubernetes API server, faked over plain HTTP, that authorizes like RBAC.

It speaks the real REST paths and JSON for the requests landed makes (pull secrets, workload
lists, Events, PolicyReports), answers 403 Forbidden `Status` for any (apiGroup, resource,
verb) the rendered ClusterRole does not grant, as a real API server would, and records every
request with its RBAC verb, so a test can compare what the server used with what the chart
granted.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Call:
    """One request as RBAC sees it."""

    verb: str
    group: str
    resource: str
    namespace: str
    name: str
    status: int


def rbac_attributes(method: str, path: str) -> tuple[str, str, str, str, str]:
    """(verb, apiGroup, resource, namespace, name) of a resource request path."""
    url = urlsplit(path)
    parts = [p for p in url.path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        raise ValueError(f"not a resource path: {path}")
    namespace = ""
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    resource, name = rest[0], (rest[1] if len(rest) > 1 else "")
    watch = parse_qs(url.query).get("watch", ["false"])[0] in ("true", "1")
    verb = {
        "GET": "get" if name else ("watch" if watch else "list"),
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if name else "deletecollection",
    }[method]
    return verb, group, resource, namespace, name


def status(code: int, reason: str, message: str) -> dict:
    """A metav1.Status body like the API server's."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class FakeKubeApi:
    """The fake API server: `objects[(group, resource, namespace, name)]` are served by GET,
    `lists[(group, resource)]` by cluster-wide list, and writes are stored."""

    def __init__(self, granted: set[tuple[str, str, str]]):
        self.granted = granted
        self.objects: dict[tuple[str, str, str, str], dict] = {}
        self.lists: dict[tuple[str, str], list[dict]] = {}
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        """Its base URL."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def write_kubeconfig(self, path: Path, namespace: str) -> Path:
        """A kubeconfig pointing kube-rs's `Client::try_default()` here."""
        path.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
            f"clusters:\n- name: fake\n  cluster:\n    server: {self.url}\n"
            "users:\n- name: landed\n  user:\n    token: not-a-real-token\n"
            f"contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: landed\n    namespace: {namespace}\n"
        )
        return path

    def used(self) -> set[tuple[str, str, str]]:
        """(apiGroup, resource, verb) of every request made so far."""
        with self.lock:
            return {(c.group, c.resource, c.verb) for c in self.calls}

    def forbidden(self) -> list[Call]:
        """The requests RBAC refused."""
        with self.lock:
            return [c for c in self.calls if c.status == 403]

    def stop(self):
        """Stops serving."""
        self.httpd.shutdown()
        self.httpd.server_close()

    def _answer(self, method: str, path: str, body: dict | None) -> tuple[int, dict]:
        verb, group, resource, namespace, name = rbac_attributes(method, path)
        with self.lock:
            if (group, resource, verb) not in self.granted:
                code, answer = 403, status(403, "Forbidden", f'{resource}.{group} is forbidden: cannot {verb} "{resource}" in API group "{group}"')
            else:
                code, answer = self._serve(verb, group, resource, namespace, name, body)
            self.calls.append(Call(verb, group, resource, namespace, name, code))
        return code, answer

    def _serve(self, verb, group, resource, namespace, name, body) -> tuple[int, dict]:
        key = (group, resource, namespace, name)
        if verb == "get":
            if key in self.objects:
                return 200, self.objects[key]
            return 404, status(404, "NotFound", f'{resource} "{name}" not found')
        if verb == "list":
            items = [o for o in self.lists.get((group, resource), []) if not namespace or o["metadata"]["namespace"] == namespace]
            return 200, {"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items}
        if verb == "create" and body is not None:
            meta = body.setdefault("metadata", {})
            meta.setdefault("name", meta.get("generateName", "object-") + str(len(self.calls)))
            meta["namespace"], meta["resourceVersion"] = namespace, "1"
            self.objects[(group, resource, namespace, meta["name"])] = body
            return 201, body
        if verb == "update" and body is not None and key in self.objects:
            body["metadata"]["resourceVersion"] = str(int(self.objects[key]["metadata"]["resourceVersion"]) + 1)
            self.objects[key] = body
            return 200, body
        return 404, status(404, "NotFound", f"{verb} {resource} not served by this fake")

    def _handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _respond(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                try:
                    code, answer = api._answer(self.command, self.path, body)
                except ValueError as e:
                    code, answer = 404, status(404, "NotFound", str(e))
                data = json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _respond

            def log_message(self, *args):
                pass

        return Handler
