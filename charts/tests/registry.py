"""Debian's docker-registry (Distribution), started with htpasswd auth on 127.0.0.1."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

REGISTRY_BIN = "/usr/bin/docker-registry"


class Registry:
    """A real registry with one user and no images: every manifest is MANIFEST_UNKNOWN."""

    def __init__(self, tmp: Path, user: str, password: str):
        if not Path(REGISTRY_BIN).exists() or not shutil.which("htpasswd"):
            pytest.skip("docker-registry and htpasswd are installed by scripts/install-deps")
        root = tmp / "registry"
        root.mkdir()
        entry = subprocess.run(["htpasswd", "-Bbn", user, password], check=True, capture_output=True, text=True).stdout
        (root / "htpasswd").write_text(entry)
        (root / "config.yml").write_text(
            "version: 0.1\nlog:\n  level: info\n"
            f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
            "http:\n  addr: 127.0.0.1:0\n"
            f"auth:\n  htpasswd:\n    realm: landed-chart-test\n    path: {root / 'htpasswd'}\n"
        )
        self.log = root / "registry.log"
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen([REGISTRY_BIN, "serve", root / "config.yml"], stdout=out, stderr=subprocess.STDOUT)
        self.host = self._wait_listening()

    def _wait_listening(self) -> str:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found = re.search(r"listening on (127\.0\.0\.1:\d+)", self.log.read_text())
            if found:
                return found[1]
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise AssertionError("docker-registry did not start:\n" + self.log.read_text())

    def stop(self):
        """Stops it."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
