#!/usr/bin/env bash
# The main job on defaults that need no weights and no service: build edit triplets from the example clips
# and photo (plus a few SynthEdit clips), show the funnel, and export the triplets in the InsViE layout.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out="${1:-demo_out}"
.venv/bin/insvie synth "$out.inputs/synth" --n 4 --seed 0 --size 288x384 --frames 33
.venv/bin/insvie build "$out" --config configs/demo.yaml --input examples/media --input "$out.inputs/synth/source"
.venv/bin/insvie export "$out" --format insvie-csv
echo "triplets: $out/exports/insvie-csv (metadata.csv, source/, edited/); manifest: $out/exports/manifest.parquet"
