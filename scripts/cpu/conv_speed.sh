#!/usr/bin/env bash
# spyx_core on the CPU for the N-MNIST conv net (B=32, T=64, 256 samples: 8 steps per epoch), width
# 1 and 2: the acceptance commands (spyx_core's CPU default, one compiled program per step with the
# pieces convolution, against snnTorch), with spyx_core@epoch (the paper's one-program epoch) and
# spyx_core@step-xla (XLA's own convolution gradients) beside them; then SHD at the paper's
# configuration (H=128 and 512), spyx_core's default epoch program against spyx_core@step.
# Run it on a quiet machine (2 cores). Usage: scripts/cpu/conv_speed.sh [OUT_ROOT]
set -euo pipefail
out=${1:-results/cpu-2core/conv-speed}
sb=(${SPIKEBENCH:-spikebench})  # e.g. SPIKEBENCH=.venv/bin/spikebench
for width in 1 2; do
    "${sb[@]}" run --task nmnist --frameworks spyx_core,snntorch --width "$width" --batch-size 32 \
        --time-steps 64 --samples 256 --epochs 3 --device cpu --out "$out/nmnist-m$width"
    "${sb[@]}" run --task nmnist --frameworks spyx_core,spyx_core@epoch,spyx_core@step-xla \
        --width "$width" --batch-size 32 --time-steps 64 --samples 256 --epochs 3 --device cpu \
        --out "$out/nmnist-m$width-programs"
done
# SHD at the paper's configuration, both programs (the CPU's default for SHD is the epoch program)
for hidden in 128 512; do
    samples=$((hidden == 128 ? 1024 : 512))
    "${sb[@]}" run --task shd --frameworks spyx_core,spyx_core@step --device cpu --data synthetic \
        --hidden "$hidden" --batch-size 256 --time-steps 256 --samples "$samples" --epochs 3 \
        --out "$out/shd-paper-h$hidden"
done
for run in "$out"/*/; do "${sb[@]}" report "$run"; done
