#!/usr/bin/env bash
# Chart tests: renders charts/landed with the Helm SDK (helm-python-sdk, no helm binary),
# lints it, validates every manifest with kubernetes-validate --strict, cross-checks the
# webhook rules against `landed kinds`, and starts target/debug/landed with the rendered
# landed.yaml (with client certificates made by openssl when mTLS is on, and for the RBAC test
# against an API-server fake and Debian's docker-registry with htpasswd, both from
# scripts/install-deps). Needs PyPI for the first install only; builds target/debug/landed if
# missing.
# Usage: charts/tests/run.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=target/chart-venv
req=charts/tests/requirements.txt

if [ ! -x "$venv/bin/python" ]; then
    if ! python3 -m venv "$venv" 2>/dev/null; then
        # Debian/Ubuntu ship venv separately.
        rm -rf "$venv"
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv
        python3 -m venv "$venv"
    fi
fi
# Reinstall only when the pinned requirements changed.
if ! cmp -s "$req" "$venv/.requirements.txt"; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    cp "$req" "$venv/.requirements.txt"
fi

[ -x target/debug/landed ] || cargo build --locked -p landed

PYTHONDONTWRITEBYTECODE=1 exec "$venv/bin/python" -m pytest charts/tests -p no:cacheprovider -q "$@"
