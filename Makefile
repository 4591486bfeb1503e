# Zumik Support. `make up` runs the stack; `make test` runs every check. Both install what is missing.
SHELL := /bin/bash
UV := scripts/uv

.PHONY: up test lint typecheck unit bench services sync console browser

sync:
	@$(UV) sync --frozen --quiet

services:
	@scripts/services start

console:
	@scripts/console

browser:
	@scripts/browser

up: sync console
	@scripts/run-stack

lint: sync
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run lint-imports
	scripts/check-deps

typecheck: sync
	$(UV) run mypy contracts/src libs/*/src services/api/src services/notifier/src services/privacy/src cli/src tests benchmarks

test: lint typecheck console browser
	$(UV) run pytest

unit: sync
	$(UV) run pytest tests/unit

bench: sync services
	$(UV) run python -m benchmarks
