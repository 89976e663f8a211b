# One image for every role: sms-sim, sms-producer, sms-sender, sms-monitor.
# Only instructions the engine's built-in builders understand: no `# syntax` line (that
# would fetch a Dockerfile frontend from a registry) and no `RUN --mount` (BuildKit only),
# so it builds with BuildKit and with the legacy builder (docker-compose 1.29's default),
# offline as soon as the two base images below are local.
FROM python:3.11-slim

# uv from its official image (same version as the lock was made with).
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /usr/local/bin/

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_NO_CACHE=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PYTHONUNBUFFERED=1 \
    PATH=/app/.venv/bin:$PATH

RUN groupadd --system --gid 10001 sms \
    && useradd --system --uid 10001 --gid sms --no-create-home --home-dir /nonexistent sms

WORKDIR /app

# Dependencies first: this layer is rebuilt only when pyproject.toml or uv.lock change.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

# Then the code, and the project itself (its console scripts) into the same venv.
COPY README.md config.yaml ./
COPY common ./common
COPY producer ./producer
COPY sender ./sender
COPY monitor ./monitor
COPY launcher ./launcher
RUN uv sync --frozen --no-dev --no-editable

USER sms:sms

# docker-compose.yml picks the role per service (entrypoint: sms-producer, ...).
ENV SMS_CONFIG=/app/config.yaml
CMD ["sms-sim", "--help"]
