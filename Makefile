# Every target does its own set-up, idempotently (scripts/setup.sh skips what is already done).
VENV ?= .venv
BIN := $(VENV)/bin
QUESTION ?= Does training a strong student on a weak supervisor's labels recover part of the gap to the strong ceiling (positive PGR)?

.PHONY: setup demo test lint typecheck importlint pytest bench clean-llm

setup:
	bash scripts/setup.sh

## The main job on the embedded defaults: a full research cycle ending in a proposal a reviewer can open.
demo: setup
	$(BIN)/ara doctor
	$(BIN)/ara run "$(QUESTION)" --auto-approve-plans

## The whole test suite: lint, types, import contracts, tests (local-model tests included).
test: setup lint typecheck importlint pytest

lint:
	$(BIN)/ruff check assistant tools tests bench
	$(BIN)/ruff format --check assistant tools tests bench

typecheck:
	$(BIN)/mypy assistant tools

importlint:
	$(BIN)/lint-imports

pytest:
	$(BIN)/python -m pytest -q

clean-llm:
	-$(BIN)/ara llm stop
