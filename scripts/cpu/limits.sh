#!/usr/bin/env bash
# Every framework against the CPU's limit (docs/limits.md): the paper's SHD network at H=128 and
# H=512 (C=128, B=256, T=256; 11.7 and 124 GFLOP per step) and the N-MNIST conv net (m=1). Each
# run measures the float32 2048x2048 matmul peak and the dense floors after its cells; the reports
# have the "against the device's limit" tables and plots (scripts/cpu/measure.sh's micro-benchmark
# run gets them too).
# Run it on a quiet machine. Usage: scripts/cpu/limits.sh [OUT_ROOT] (default results/cpu-2core/limits)
set -euo pipefail
out=${1:-results/cpu-2core/limits}
sb=(${SPIKEBENCH:-spikebench})  # e.g. SPIKEBENCH=.venv/bin/spikebench
common=(--device cpu --data synthetic --timeout 3600)
frameworks=spyx_core,snntorch,norse,torch_plain
# 512 samples of B=256: 2 steps per epoch; 3 epochs, the first the warm-up.
for h in 128 512; do
    "${sb[@]}" run --task shd --frameworks "$frameworks" "${common[@]}" --hidden "$h" \
        --batch-size 256 --time-steps 256 --samples 512 --epochs 3 --out "$out/shd-h$h-b256-t256"
    "${sb[@]}" report "$out/shd-h$h-b256-t256"
done
"${sb[@]}" run --task nmnist --frameworks "$frameworks" "${common[@]}" --width 1 --batch-size 32 \
    --time-steps 64 --samples 128 --epochs 3 --out "$out/nmnist-m1-b32"
"${sb[@]}" report "$out/nmnist-m1-b32"
echo "tables: $out/*/report.md (sections '<table>: against the device's limit'), $out/*/*-limits.csv"
