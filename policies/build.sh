#!/usr/bin/env bash
# Builds the built-in policies (and any crate in this workspace) to wasm32-wasip2 components:
#   policies/target/wasm32-wasip2/release/<crate_name>.wasm
#
# Toolchain, first found wins:
#   1. Debian's rustc-web (/usr/bin/rustc 1.96 + rust-web-src + wasi-libc), with build-std;
#   2. a rustup toolchain with the wasm32-wasip2 target installed;
# otherwise it prints what to install. It installs nothing unless asked:
#   ./build.sh --install-toolchain   (Debian/Ubuntu, as root: apt-get install the toolchain)
# Extra arguments are passed to cargo (e.g. -p require-landed).
set -euo pipefail
cd "$(dirname "$0")"

debian_ready() {
    [ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] && [ -d /usr/lib/wasm32-wasi ] &&
        /usr/bin/rustc --print sysroot >/dev/null 2>&1 &&
        [ -d "$(/usr/bin/rustc --print sysroot)/lib/rustlib/src/rust/library" ]
}

rustup_ready() {
    command -v rustup >/dev/null 2>&1 &&
        rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2
}

if [ "${1:-}" = "--install-toolchain" ]; then
    shift
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    # Never libstd-rust-dev-wasm32: it is for Debian's older rustc and breaks this build.
    apt-get install -y rustc-web cargo-web rust-web-src rust-web-llvm lld-22 wasi-libc
fi

if debian_ready; then
    echo "build.sh: Debian rustc-web $(/usr/bin/rustc --version | cut -d' ' -f2) with build-std" >&2
    RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc RUSTFLAGS="-L native=/usr/lib/wasm32-wasi" \
        /usr/bin/cargo build --release --target wasm32-wasip2 -Zbuild-std=std,panic_abort "$@"
elif rustup_ready; then
    echo "build.sh: rustup target wasm32-wasip2" >&2
    cargo build --release --target wasm32-wasip2 "$@"
else
    cat >&2 <<'MSG'
build.sh: no WebAssembly toolchain found. Install one of:
  - Debian 12+/Ubuntu (as root):  ./policies/build.sh --install-toolchain
      (apt-get install rustc-web cargo-web rust-web-src rust-web-llvm lld-22 wasi-libc)
  - rustup:                       rustup target add wasm32-wasip2
MSG
    exit 1
fi

ls -l target/wasm32-wasip2/release/*.wasm >&2
