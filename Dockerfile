# The baton-cognito container image.
#
#   docker build -t ghcr.io/example/baton-cognito:0.1.0 .
#
# Needs BuildKit (the default builder since Docker 23) for the cache mounts.
#
# Base images are pinned to exact version tags. Add their digests (`FROM image:tag@sha256:...`,
# from `docker buildx imagetools inspect IMAGE:TAG`) where the build can reach the registry, so that
# a rebuilt tag cannot change the image underneath.
#
# The binary links glibc dynamically, so it is built on Debian 12 (bookworm), the glibc the runtime
# image has: a binary built on a newer Debian may need symbols bookworm's glibc lacks.

FROM rust:1.95.0-slim-bookworm AS build

WORKDIR /src

# Only what the build reads: the manifest, the lock file, the build script and its .proto files,
# the sources, and the declared bench target (cargo checks it exists).
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto ./proto
COPY benches ./benches
COPY src ./src

RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked \
    && install -D -m 0755 target/release/baton-cognito /out/baton-cognito

# Runtime: distroless cc (glibc, libgcc_s, CA certificates at /etc/ssl/certs, tzdata; no shell,
# no package manager). rustls loads the system roots from the CA bundle; SQLite is bundled in
# the binary.
FROM gcr.io/distroless/cc-debian12:nonroot

LABEL org.opencontainers.image.title="baton-cognito" \
      org.opencontainers.image.description="ConductorOne Baton connector for AWS Cognito user pools" \
      org.opencontainers.image.licenses="Apache-2.0"

COPY --from=build /out/baton-cognito /usr/local/bin/baton-cognito

# The image's nonroot user, by number, so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532

# The health endpoint of service mode (--health-check; --health-check-port defaults to 8081).
EXPOSE 8081

ENTRYPOINT ["/usr/local/bin/baton-cognito"]
