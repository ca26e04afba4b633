#!/usr/bin/env bash
# The main job on defaults that need no weights and no service: generate a SynthEdit dataset and probe it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out="${1:-demo_out}"
.venv/bin/insvie synth "$out" --n 8 --seed 0 --broken-fraction 0.25
.venv/bin/insvie probe "$out"/source/*.mp4
echo "records: $out/records.jsonl"
