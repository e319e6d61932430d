#!/usr/bin/env bash
# NIR cross-check with snnTorch, both directions (see tools/nir_crosscheck.py):
# snnTorch builds, runs and exports a network; burn-fptt exports its own and imports snnTorch's;
# snnTorch imports burn-fptt's; spikes and outputs are compared. Writes results/nir/.
#
#   scripts/nir_crosscheck.sh            # needs libhdf5-dev and pkg-config (apt) and network
#                                        # access to PyPI (nir, snntorch, torch: about 3 GB)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/burn-fptt-target}"
VENV="${NIR_VENV:-$HOME/.cache/burn-fptt-nir-venv}"
OUT=results/nir
mkdir -p "$OUT"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q nir h5py numpy snntorch nirtorch torch
"$VENV/bin/python" tools/nir_crosscheck.py make "$OUT"
cargo run --release --features hdf5 --example nir_crosscheck -- "$OUT"
"$VENV/bin/python" tools/nir_crosscheck.py compare "$OUT"
echo "commit $(git rev-parse --short HEAD)" > "$OUT/commit.txt"
