#!/usr/bin/env bash
# Builds the built-in policies (and any cdylib crate in this workspace) to WebAssembly
# components, collected in one place whatever toolchain built them:
#   policies/target/components/<crate_name>.wasm
# and the Kubewarden test policies (kubewarden/, a workspace of their own) to waPC core
# modules for wasm32-wasip1, annotated with their metadata.yml:
#   policies/target/kubewarden/<crate_name>.wasm
#
# The lean route, preferred: wasm32-unknown-unknown, linked into a component by the
# wasm-component-ld that ships with rustc, with no WASI adapter. The components import only
# landed:policy/host, which makes a fresh instance per call cheaper (no WASI imports to wire
# up) and leaves nothing for a guest to even try. The usual route elsewhere, wasm32-wasip2,
# is the fallback: its WASI imports are there but trap in the host.
#
# Toolchain, first found wins:
#   1. Debian's rustc-web (/usr/bin/rustc 1.96 + rust-web-src), with -Zbuild-std;
#   2. a rustup toolchain with the wasm32-unknown-unknown target installed;
#   3. a rustup toolchain with the wasm32-wasip2 target installed;
# otherwise it prints what to install. The Kubewarden policies need wasm32-wasip1: Debian's
# rustc-web builds it too; with rustup, `rustup target add wasm32-wasip1`.
# It installs nothing unless asked:
#   ./build.sh --install-toolchain   (Debian/Ubuntu, as root: apt-get install the toolchain)
#   ./build.sh --only landed|kubewarden   (one of the two; default both)
# Extra arguments are passed to the built-ins' cargo build (e.g. -p require-landed).
set -euo pipefail
cd "$(dirname "$0")"

debian_ready() {
    [ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] &&
        /usr/bin/rustc --print sysroot >/dev/null 2>&1 &&
        [ -d "$(/usr/bin/rustc --print sysroot)/lib/rustlib/src/rust/library" ] &&
        [ -x "$(component_linker /usr/bin/rustc)" ]
}

rustup_has() {
    command -v rustup >/dev/null 2>&1 &&
        rustup target list --installed 2>/dev/null | grep -qx "$1"
}

# rustc's own component linker (shipped with every rustc since wasm32-wasip2 exists).
component_linker() {
    local rustc=$1 host
    host=$("$rustc" -vV | sed -n 's/^host: //p')
    echo "$("$rustc" --print sysroot)/lib/rustlib/$host/bin/wasm-component-ld"
}

if [ "${1:-}" = "--install-toolchain" ]; then
    shift
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    # Never libstd-rust-dev-wasm32: it is for Debian's older rustc and breaks this build.
    apt-get install -y rustc-web cargo-web rust-web-src rust-web-llvm lld-22 wasi-libc
fi
only=all
if [ "${1:-}" = "--only" ]; then
    only=${2:?--only needs landed or kubewarden}
    shift 2
fi
case "$only" in
    all | landed | kubewarden) ;;
    *) echo "build.sh: --only takes landed or kubewarden, not $only" >&2; exit 2 ;;
esac
# Where cargo puts its output (CARGO_TARGET_DIR, when set, wins over ./target).
target_dir=${CARGO_TARGET_DIR:-$PWD/target}

# 1 MiB of initial memory: a 256 KiB stack, the data, and room for a typical call's heap, so
# that the SDK's allocator (sdk/src/heap.rs) never has to grow memory in a fresh instance.
lean_flags() {
    echo "-Clinker=$(component_linker "$1") -Clink-arg=--wasi-adapter=none" \
        "-Clink-arg=-zstack-size=262144 -Clink-arg=--initial-memory=1048576"
}

build_landed() {
    if debian_ready; then
        target=wasm32-unknown-unknown
        echo "build.sh: Debian rustc-web $(/usr/bin/rustc --version | cut -d' ' -f2), $target, build-std" >&2
        RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc RUSTFLAGS="$(lean_flags /usr/bin/rustc)" \
            /usr/bin/cargo build --release --target "$target" -Zbuild-std=std,panic_abort "$@"
    elif rustup_has wasm32-unknown-unknown && [ -x "$(component_linker rustc)" ]; then
        target=wasm32-unknown-unknown
        echo "build.sh: rustup target $target" >&2
        RUSTFLAGS="$(lean_flags rustc)" cargo build --release --target "$target" "$@"
    elif rustup_has wasm32-wasip2; then
        target=wasm32-wasip2
        echo "build.sh: rustup target $target" >&2
        cargo build --release --target "$target" "$@"
    else
        cat >&2 <<'MSG'
build.sh: no WebAssembly toolchain found. Install one of:
  - Debian 12+/Ubuntu (as root):  ./policies/build.sh --install-toolchain
      (apt-get install rustc-web cargo-web rust-web-src rust-web-llvm lld-22 wasi-libc)
  - rustup:                       rustup target add wasm32-unknown-unknown
                                  (or wasm32-wasip2)
MSG
        exit 1
    fi

    # Only this workspace's policy crates: the target directory may hold other builds.
    out=target/components
    mkdir -p "$out"
    for manifest in */Cargo.toml; do
        grep -q '"cdylib"' "$manifest" || continue
        crate=$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -1)
        wasm="$target_dir/$target/release/${crate//-/_}.wasm"
        if [ -f "$wasm" ]; then
            cp "$wasm" "$out/"
        fi
    done
    ls -l "$out"/*.wasm >&2
}

# The Kubewarden test policies: core modules for wasm32-wasip1, the target Kubewarden's Rust
# template builds for, with the SDK as a normal crates.io dependency (their Cargo.lock is
# committed). Each module gets its metadata.yml as the io.kubewarden.metadata custom section.
build_kubewarden() {
    local target=wasm32-wasip1 args=(--release --locked --target wasm32-wasip1
        --manifest-path kubewarden/Cargo.toml --target-dir "$target_dir")
    if debian_ready && [ -d /usr/lib/wasm32-wasi ]; then
        echo "build.sh: Kubewarden policies, Debian rustc-web, $target, build-std" >&2
        RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc RUSTFLAGS="-L native=/usr/lib/wasm32-wasi" \
            /usr/bin/cargo build "${args[@]}" -Zbuild-std=std,panic_abort
    elif rustup_has "$target"; then
        echo "build.sh: Kubewarden policies, rustup target $target" >&2
        cargo build "${args[@]}"
    else
        cat >&2 <<'MSG'
build.sh: no wasm32-wasip1 toolchain for the Kubewarden policies. Install one of:
  - Debian 12+/Ubuntu (as root):  ./policies/build.sh --install-toolchain
  - rustup:                       rustup target add wasm32-wasip1
MSG
        exit 1
    fi
    local out=target/kubewarden manifest crate dir
    mkdir -p "$out"
    for manifest in kubewarden/*/Cargo.toml; do
        grep -q '"cdylib"' "$manifest" || continue
        dir=$(dirname "$manifest")
        crate=$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -1)
        python3 kubewarden/kwmeta.py annotate "$target_dir/$target/release/${crate//-/_}.wasm" \
            "$dir/metadata.yml" -o "$out/${crate//-/_}.wasm"
    done
    ls -l "$out"/*.wasm >&2
}

case "$only" in
    landed) build_landed "$@" ;;
    kubewarden) build_kubewarden ;;
    all)
        build_landed "$@"
        build_kubewarden
        ;;
esac
