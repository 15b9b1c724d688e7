#!/usr/bin/env bash
# Loss trajectories against spyx_core (README "Agreement along the whole run"): one small SHD
# configuration at the default learning rate and at 0.05 (which moves every beta by about 0.25 in
# five steps, across 0 and 1), each with its report (trajectory table and plot).
# Usage: scripts/cpu/trajectory.sh [ROOT]   (default results/cpu-2core)
set -euo pipefail
root=${1:-results/cpu-2core}
sb=(${SPIKEBENCH:-spikebench})  # e.g. SPIKEBENCH=.venv/bin/spikebench
frameworks=spyx_core,snntorch,norse,torch_plain,spyx_core@layerwise
for lr in 5e-4 0.05; do
    out="$root/trajectory-shd-h32-lr$lr"
    "${sb[@]}" run --task shd --frameworks "$frameworks" --device cpu --data synthetic \
        --hidden 32 --batch-size 16 --time-steps 32 --samples 64 --epochs 3 --lr "$lr" --out "$out"
    "${sb[@]}" report "$out" > /dev/null
done
