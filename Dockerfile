# One image for the whole stack: the API, the notifier, the privacy service and the operators'
# command line (`zumik-support`). docker-compose.yml runs it three times with another command.
# Built from the repository root: `docker compose build`, or `docker build -t zumik-support .`

# The web console, built once; the API serves it at /console/.
FROM node:20-slim AS console
WORKDIR /console
COPY services/console/package.json services/console/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY services/console/ ./
RUN npm run build

FROM python:3.11-slim AS app
COPY --from=ghcr.io/astral-sh/uv:0.13 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app

# The dependency layer: the lock file and every package's pyproject.toml, then the third-party
# dependencies alone. A change to the source reuses this layer.
COPY pyproject.toml uv.lock .python-version ./
COPY contracts/pyproject.toml contracts/
COPY libs/accounts/pyproject.toml libs/accounts/
COPY libs/deliveries/pyproject.toml libs/deliveries/
COPY libs/files/pyproject.toml libs/files/
COPY libs/idempotency/pyproject.toml libs/idempotency/
COPY libs/messaging/pyproject.toml libs/messaging/
COPY libs/observability/pyproject.toml libs/observability/
COPY libs/privacy-records/pyproject.toml libs/privacy-records/
COPY libs/store/pyproject.toml libs/store/
COPY libs/tickets/pyproject.toml libs/tickets/
COPY services/api/pyproject.toml services/api/
COPY services/notifier/pyproject.toml services/notifier/
COPY services/privacy/pyproject.toml services/privacy/
COPY cli/pyproject.toml cli/
RUN uv sync --frozen --no-dev --no-install-workspace

# The source, then the workspace's own packages (every service and the CLI).
COPY contracts/ contracts/
COPY libs/ libs/
COPY services/api/ services/api/
COPY services/notifier/ services/notifier/
COPY services/privacy/ services/privacy/
COPY cli/ cli/
RUN uv sync --frozen --no-dev
COPY --from=console /console/dist services/console/dist

# Not root: the processes own nothing in the image.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin zumik
USER 10001
ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    CONSOLE_DIR=/app/services/console/dist
EXPOSE 8000 8001 8002
CMD ["zumik-api"]
