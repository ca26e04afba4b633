#!/usr/bin/env bash
# The test suite, from a fresh machine: set up ./.venv, lint, then run pytest on every core.
# INSVIE_TEST_WORKERS=0 runs it in one process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
export HF_HUB_OFFLINE=1
.venv/bin/ruff check src tests benchmarks
# One pytest worker per core (at most 4: each holds its own torch); tests that start Ray run on one
# worker, one after another (their xdist_group), since Ray's local clusters share the machine's defaults.
cores="$(nproc 2>/dev/null || echo 2)"
workers="${INSVIE_TEST_WORKERS:-$(( cores < 4 ? cores : 4 ))}"
.venv/bin/python -m pytest -q -n "$workers" --dist loadgroup "$@"
