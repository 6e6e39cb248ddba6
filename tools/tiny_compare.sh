#!/usr/bin/env bash
# Run the frozen tiny config (the one the baseline used) from this checkout into a fresh folder and
# compare its tables byte for byte with the baseline run:  tools/tiny_compare.sh NAME
# (molrg is imported from this checkout: PYTHONPATH names it, ahead of any editable install)
# (baseline: /tmp/base_tiny, made from main at the start of the restructuring, config /tmp/base_tiny.yaml)
set -euo pipefail
name=${1:?usage: tools/tiny_compare.sh NAME}
here=$(cd "$(dirname "$0")/.." && pwd)
out=/tmp/${name}_tiny
rm -rf "$out" && mkdir -p "$out"
PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" nice -n 5 "$here/.venv/bin/snakemake" -s "$here/Snakefile" --directory "$out" --cores 2 \
  --configfile "${BASE_CONFIG:-/tmp/base_tiny.yaml}" > "$out.log" 2>&1 || { tail -40 "$out.log"; exit 2; }
"$here/.venv/bin/python" "$here/tools/compare_runs.py" /tmp/base_tiny "$out"
