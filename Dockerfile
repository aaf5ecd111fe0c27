# syntax=docker/dockerfile:1
#
# The landed image: the `landed` binary and the built-in WebAssembly policies, built from
# source.
#   build    Debian bookworm with rustup's Rust (the official rust image).
#   runtime  distroless/cc (glibc, libgcc, CA certificates; no shell), user nonroot 65532.
#
#   docker build -t landed:0.1.0 .
#
# Policies: rustup's wasm32-unknown-unknown target (`rustup target add`), linked into
# components by the wasm-component-ld that ships with rustc: no extra tools, no WASI imports. The other
# route policies/build.sh knows (Debian trixie's rustc-web with -Zbuild-std, ~1.4 GB of
# packages) exists for machines that may only use Debian's archive, not for this build.
# Only the built-ins (`--only landed`): the Kubewarden test policies are for the test suite.
# The image tag, the chart's appVersion and the crate version are the same number.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
RUN rustup target add wasm32-unknown-unknown
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    set -eux; \
    cargo build --release --locked -p landed; \
    policies/build.sh --only landed --locked; \
    install -D -m 0755 target/release/landed /out/usr/bin/landed; \
    install -d /out/usr/lib/landed/policies; \
    install -m 0644 policies/target/components/*.wasm /out/usr/lib/landed/policies/; \
    ls -l /out/usr/lib/landed/policies

# bookworm's glibc, like the build stage.
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="landed" \
      org.opencontainers.image.description="Admission webhook that refuses images that never landed in their registry" \
      org.opencontainers.image.source="https://github.com/landed-dev/landed" \
      org.opencontainers.image.licenses="Apache-2.0"
# The binary, and the built-in policies where the server looks by default (policyDir).
COPY --from=build /out/ /
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/usr/bin/landed"]
CMD ["serve", "--config", "/etc/landed/landed.yaml"]
