#!/usr/bin/env bash
# Builds this policy into target/{crate}.wasm the way landed builds its built-ins
# (policies/build.sh in the landed repository): for wasm32-unknown-unknown, linked into a
# component by the wasm-component-ld that ships with rustc, without a WASI adapter, so the
# component imports nothing. Fallback: wasm32-wasip2 (WASI imports, which trap in landed).
#
# Toolchain, first found wins:
#   1. Debian's rustc-web (/usr/bin/rustc + rust-web-src), with -Zbuild-std
#      (apt-get install rustc-web cargo-web rust-web-src rust-web-llvm lld-22 wasi-libc);
#   2. a rustup toolchain with the wasm32-unknown-unknown target installed;
#   3. a rustup toolchain with the wasm32-wasip2 target installed.
# Extra arguments are passed to cargo. CARGO_TARGET_DIR is honoured.
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

# 1 MiB of initial memory: a 256 KiB stack, the data, and room for a typical call's heap, so
# that the SDK's allocator never has to grow memory in a fresh instance.
lean_flags() {
    echo "-Clinker=$(component_linker "$1") -Clink-arg=--wasi-adapter=none" \
        "-Clink-arg=-zstack-size=262144 -Clink-arg=--initial-memory=1048576"
}

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
    echo "build.sh: rustup target $target (WASI imports: answers are not reused)" >&2
    cargo build --release --target "$target" "$@"
else
    cat >&2 <<'MSG'
build.sh: no WebAssembly toolchain found. Install one of:
  - rustup:         rustup target add wasm32-unknown-unknown   (or wasm32-wasip2)
  - Debian/Ubuntu:  apt-get install rustc-web cargo-web rust-web-src rust-web-llvm lld-22 wasi-libc
MSG
    exit 1
fi

built="${CARGO_TARGET_DIR:-target}/$target/release/{crate}.wasm"
mkdir -p target
cp "$built" target/{crate}.wasm
echo "build.sh: target/{crate}.wasm" >&2
