# syntax=docker/dockerfile:1
# One image for every role: sms-sim, sms-producer, sms-sender, sms-monitor.
FROM python:3.11-slim

# uv from its official image (same version as the lock was made with).
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /usr/local/bin/

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PYTHONUNBUFFERED=1 \
    PATH=/app/.venv/bin:$PATH

RUN groupadd --system --gid 10001 sms \
    && useradd --system --uid 10001 --gid sms --no-create-home --home-dir /nonexistent sms

WORKDIR /app

# Dependencies first: this layer is rebuilt only when pyproject.toml or uv.lock change.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project

# Then the code, and the project itself (its console scripts) into the same venv.
COPY README.md config.yaml ./
COPY common ./common
COPY producer ./producer
COPY sender ./sender
COPY monitor ./monitor
COPY launcher ./launcher
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

USER sms:sms

# docker-compose.yml picks the role per service (entrypoint: sms-producer, ...).
ENV SMS_CONFIG=/app/config.yaml
CMD ["sms-sim", "--help"]
