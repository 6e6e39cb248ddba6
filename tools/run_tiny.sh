#!/usr/bin/env bash
# Run the workflow on the tiny test config in a separate working directory (default /tmp/molrg_tiny),
# so that several runs (and the tests) never share results/ or .snakemake/.
#   tools/run_tiny.sh [WORKDIR] [snakemake args / targets...]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WD="${1:-/tmp/molrg_tiny}"; shift || true
mkdir -p "$WD"
exec "$ROOT/.venv/bin/snakemake" -s "$ROOT/Snakefile" --directory "$WD" \
  --configfile "$ROOT/tests/config/tiny.yaml" --cores 2 "$@"
