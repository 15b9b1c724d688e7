#!/usr/bin/env bash
# Eager and torch.compile side by side for every PyTorch framework on the CPU (issue 17's closing
# table): one small SHD configuration, then the report with its "eager and compiled" table (speed-up,
# compile s, break-even epochs, graphs / breaks / recompiles). Run it on a quiet machine.
# Usage: scripts/cpu/compiled.sh [OUT]   (default results/cpu-2core/compiled-shd-h128-b64-t64)
set -euo pipefail
out=${1:-results/cpu-2core/compiled-shd-h128-b64-t64}
sb=(${SPIKEBENCH:-spikebench})  # e.g. SPIKEBENCH=.venv/bin/spikebench
frameworks=spyx_core,snntorch,snntorch@compile,norse,norse@compile,torch_plain,torch_plain@compile
# spyx_core is the reference of the first-step losses (each compiled row within 1e-4 of it).
# 512 samples of B=64 (8 steps per epoch), 4 epochs: the first a warm-up, three timed.
"${sb[@]}" run --task shd --frameworks "$frameworks" --device cpu --data synthetic \
    --hidden 128 --batch-size 64 --time-steps 64 --samples 512 --epochs 4 --timeout 1800 \
    --out "$out"
"${sb[@]}" report "$out"
echo "table: $out/report.md (section 'table1: eager and compiled, side by side'), $out/table1-compiled.csv"
