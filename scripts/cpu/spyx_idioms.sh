#!/usr/bin/env bash
# Spyx as the paper's SHD notebook runs it (spyx@paper) beside spikebench's default Spyx network
# (spyx, every layer in one time-major lax.scan) and that network at the notebook's unroll
# (spyx@unroll32), with spyx_core as the reference: the paper's SHD configuration (C=128, H=128,
# B=256, T=256), 1024 samples (4 steps per epoch), docs/idioms.md. Needs Spyx 0.1.x installed
# (pip install -e ".[spyx]"). Run it on a quiet machine; nothing is typed in.
# Usage: scripts/cpu/spyx_idioms.sh [OUT]   (default results/cpu-2core/spyx-idioms-h128-b256-t256)
set -euo pipefail
out=${1:-results/cpu-2core/spyx-idioms-h128-b256-t256}
sb=(${SPIKEBENCH:-spikebench})  # e.g. SPIKEBENCH=.venv/bin/spikebench
"${sb[@]}" run --task shd --frameworks spyx_core,spyx,spyx@unroll32,spyx@paper --device cpu \
    --data synthetic --hidden 128 --batch-size 256 --time-steps 256 --samples 1024 --epochs 4 \
    --timeout 1800 --out "$out"
"${sb[@]}" report "$out"
