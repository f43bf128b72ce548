# A small static image of the controller: a musl build of the binary on a distroless static
# base, running as a non-root user. Build from the repository's root:
#
#   docker build -t <registry>/aws-load-balancer-controller:<tag> .
#
# The build runs the same `cargo build` the tests use, with the musl target for a static binary.
FROM rust:1.95-bookworm AS build
RUN rustup target add x86_64-unknown-linux-musl \
 && apt-get update && apt-get install -y --no-install-recommends musl-tools cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --target x86_64-unknown-linux-musl \
      --package aws-load-balancer-controller --bin aws-load-balancer-controller \
 && cp target/x86_64-unknown-linux-musl/release/aws-load-balancer-controller /aws-load-balancer-controller

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /aws-load-balancer-controller /aws-load-balancer-controller
USER 65532:65532
EXPOSE 8080 9443 61779
ENTRYPOINT ["/aws-load-balancer-controller"]
# Upstream's manifests pass flags only (`--cluster-name=…`): the binary takes them as `run`.
CMD ["run"]
