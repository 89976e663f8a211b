# One image for every role: sms-sim, sms-producer, sms-sender, sms-monitor. Built once, as
# sms-sim:latest, by docker-compose.yml's `sender` service (or `docker build -t
# sms-sim:latest .`); Compose and the Kubernetes manifests (deploy/kubernetes) run it alike.
# Only instructions the engine's built-in builders understand: no `# syntax` line (that
# would fetch a Dockerfile frontend from a registry) and no `RUN --mount` (BuildKit only),
# so it builds with BuildKit and with the legacy builder (docker-compose 1.29's default),
# offline as soon as the base images below are local.
#
# Two stages. `build` installs the locked dependencies and the project into /app/.venv
# with uv; the runtime image is the same Python with that venv copied in and nothing else:
# no uv, no source tree, no build cache. The `embedded` extra (fakeredis, which `sms-sim
# run` uses when no Redis is named and no redis-server is installed) is left out: in a
# container every role names a Redis server.
#
# Base images are pinned to an exact release, Python and Redis also to the digest of that
# release's multi-platform index, so a rebuild gets the same bytes. To bump one: choose the
# new tag, read its digest with `docker buildx imagetools inspect TAG` (the first
# "Digest:" line), write both (Python: the two FROM lines below, which must stay equal;
# Redis: docker-compose.yml and deploy/kubernetes/components/redis/redis.yaml, which the
# tests hold equal), rebuild and run the tests. uv: the release uv.lock was made with.
FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS build

COPY --from=uv /uv /usr/local/bin/uv

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_NO_CACHE=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# Dependencies first: this layer is rebuilt only when pyproject.toml or uv.lock change.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

# Then the code, and the project itself (its console scripts) into the same venv, not
# editable: the runtime stage copies the venv alone.
COPY README.md ./
COPY common ./common
COPY producer ./producer
COPY sender ./sender
COPY monitor ./monitor
COPY launcher ./launcher
RUN uv sync --frozen --no-dev --no-editable

# The runtime image: the same Python (the venv's interpreter is its /usr/local/bin/python3).
FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

RUN groupadd --system --gid 10001 sms \
    && useradd --system --uid 10001 --gid sms --no-create-home --home-dir /nonexistent sms

WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY config.yaml ./

# Bytecode is compiled in the venv already: nothing is written at run time, so the image
# runs on a read-only root filesystem (deploy/kubernetes mounts an empty /tmp).
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SMS_CONFIG=/app/config.yaml

# No HEALTHCHECK: the roles serve nothing to check (the monitor's /metrics only when
# asked), and Compose and Kubernetes watch the processes themselves.
# checkov:skip=CKV_DOCKER_2:no role serves an endpoint a HEALTHCHECK could ask
# Numeric, so Kubernetes can check runAsNonRoot against the image.
USER 10001:10001

# docker-compose.yml and deploy/kubernetes pick the role per service (entrypoint: sms-producer, ...).
CMD ["sms-sim", "--help"]
