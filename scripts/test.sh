#!/usr/bin/env bash
# The test suite, from a fresh machine: set up ./.venv, lint, then run pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
export HF_HUB_OFFLINE=1
.venv/bin/ruff check src tests benchmarks
.venv/bin/python -m pytest -q "$@"
