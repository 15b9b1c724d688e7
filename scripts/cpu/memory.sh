#!/usr/bin/env bash
# Peak memory like with like on the CPU (docs/memory.md): every framework's worker measures its
# peak RSS above the baseline taken just before the model is built, and each row says how busy
# the machine was while it was timed. One SHD and one N-MNIST configuration,
# then the reports (column "peak MiB (peak RSS above baseline)", column "machine"). Run it on a
# quiet machine: a row marked BUSY should be measured again.
# Usage: scripts/cpu/memory.sh [OUT]   (default results/cpu-2core/memory)
set -euo pipefail
out=${1:-results/cpu-2core/memory}
sb=(${SPIKEBENCH:-spikebench})  # e.g. SPIKEBENCH=.venv/bin/spikebench
frameworks=spyx_core,snntorch,norse,torch_plain,snntorch@compile
"${sb[@]}" run --task shd --frameworks "$frameworks" --device cpu --data synthetic \
    --hidden 128 --batch-size 64 --time-steps 64 --samples 512 --epochs 3 --timeout 1800 \
    --out "$out/shd-h128-b64-t64"
"${sb[@]}" run --task nmnist --frameworks spyx_core,snntorch,norse --device cpu --data synthetic \
    --width 1 --batch-size 32 --time-steps 64 --samples 256 --epochs 2 --timeout 1800 \
    --out "$out/nmnist-m1-b32"
for part in shd-h128-b64-t64 nmnist-m1-b32; do
    "${sb[@]}" report "$out/$part" > /dev/null
    echo "memory and machine: $out/$part/report.md (section 'every row's time, compile and peak memory')"
done
