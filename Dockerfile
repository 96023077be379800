# tap in a container: a multi-stage build, a non-root user, the database on
# the /data volume.
#
#   docker build -t tap --build-arg VERSION=$(git describe --tags --always) .
#   docker run -p 2480:2480 -v tap-data:/data tap
#
# The default database is SQLite at /data/tap.db (the working directory), as
# with the reference Tap's image. Configure with TAP_* variables or mount a
# file and pass `run --config /data/tap.yaml`.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
# SQLite is linked with cgo, so the binary needs glibc: the runtime image is
# Debian slim rather than a static or distroless one.
RUN CGO_ENABLED=1 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION}" -o /out/tap ./cmd/tap

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin tap \
 && mkdir -p /data && chown tap:tap /data
COPY --from=build /out/tap /usr/local/bin/tap
USER tap:tap
WORKDIR /data
VOLUME /data
ENV TAP_BIND=:2480
EXPOSE 2480
# `tap health` GETs /health on TAP_BIND (with TAP_ADMIN_PASSWORD when set).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["tap", "health"]
# tini reaps and forwards SIGTERM, so tap shuts down gracefully on docker stop.
ENTRYPOINT ["tini", "--", "tap"]
CMD ["run"]
