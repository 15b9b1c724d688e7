#!/usr/bin/env bash
# The CPU measurements committed under results/ (two cores; synthetic twins, since the real
# datasets are not on these machines). Each line is a harness command; nothing is typed in.
# Usage: scripts/cpu/measure.sh [OUT_ROOT [SECTION...]]   (default results/cpu-2core, every section)
# Sections, in this order: foundation paper variants remat nmnist table1 micro full-epoch.
# Naming some runs only those (e.g. to re-measure into a fresh OUT_ROOT: an existing folder is
# resumed, not overwritten).
set -euo pipefail
out=${1:-results/cpu-2core}
shift || true
sections=" ${*:-foundation paper variants remat nmnist table1 micro full-epoch} "
wants() { [[ $sections == *" $1 "* ]]; }
sb=(${SPIKEBENCH:-spikebench})  # e.g. SPIKEBENCH=.venv/bin/spikebench
common=(--device cpu --data synthetic)

report() { "${sb[@]}" report "$1"; }

if wants foundation; then  # three frameworks, same first-step loss (issue "Foundation")
    "${sb[@]}" run --task shd --frameworks spyx_core,snntorch,norse "${common[@]}" \
        --hidden 128 --batch-size 64 --time-steps 64 --epochs 2 --out "$out/shd-h128-b64-t64"
    report "$out/shd-h128-b64-t64"
fi
if wants paper; then  # the paper's SHD configuration (C=128, H=128, B=256, T=256), 4 steps per epoch
    "${sb[@]}" run --task shd --frameworks spyx_core,snntorch,norse,torch_plain "${common[@]}" \
        --hidden 128 --batch-size 256 --time-steps 256 --samples 1024 --epochs 3 \
        --out "$out/shd-paper-config-n1024"
    report "$out/shd-paper-config-n1024"
fi
# spyx_core's implementations side by side, against Spyx's step-by-step scan (issue "faster than
# Spyx"): the CPU target configuration, then H=512, then long sequences (remat trade-off).
if wants variants; then
    variants=spyx_core,spyx_core@fused-remat32,spyx_core@layerwise,spyx_core@scan,spyx_core@scan-unroll32
    "${sb[@]}" run --task shd --frameworks "$variants" "${common[@]}" --hidden 128 --batch-size 64 \
        --time-steps 256 --samples 1024 --epochs 4 --out "$out/spyx-core-variants-h128-b64-t256"
    report "$out/spyx-core-variants-h128-b64-t256"
    "${sb[@]}" run --task shd --frameworks spyx_core,spyx_core@fused-remat32,spyx_core@scan \
        "${common[@]}" --hidden 512 --batch-size 64 --time-steps 256 --samples 512 --epochs 3 \
        --out "$out/spyx-core-variants-h512-b64-t256"
    report "$out/spyx-core-variants-h512-b64-t256"
fi
if wants remat; then
    for t in 1024 4096; do
        "${sb[@]}" run --task shd --frameworks spyx_core,spyx_core@fused-remat32,spyx_core@scan \
            "${common[@]}" --hidden 128 --batch-size 64 --time-steps "$t" --samples 256 --epochs 3 \
            --out "$out/spyx-core-remat-h128-b64-t$t"
        report "$out/spyx-core-remat-h128-b64-t$t"
    done
fi
if wants nmnist; then  # the N-MNIST conv net, width 1 and 2, 256 samples (8 steps of B=32)
    for m in 1 2; do
        "${sb[@]}" run --task nmnist --frameworks spyx_core,spyx_core@layerwise,snntorch,norse \
            "${common[@]}" --width "$m" \
            --batch-size 32 --time-steps 64 --samples 256 --epochs 2 --out "$out/nmnist-m$m-b32"
        report "$out/nmnist-m$m-b32"
    done
fi
if wants table1; then  # the Table 1 grid, 512 samples per cell, projected to the 100-epoch protocol
    "${sb[@]}" reproduce table1 --frameworks spyx_core,snntorch,norse "${common[@]}" --samples 512 \
        --epochs 3 --out "$out/table1-n512"
fi
if wants micro; then  # the Open Neuromorphic micro-benchmark (snnTorch at n=16384 exceeds 600 s here)
    "${sb[@]}" reproduce micro --device cpu --frameworks spyx_core,snntorch --timeout 600 \
        --out "$out/micro" || echo "micro had failed cells (recorded in its results)"
fi
if wants full-epoch; then  # spyx_core's SHD epoch at the paper's sizes over the whole training split
    # (8156 samples, 31 steps of B=256): the per-epoch costs spread as in the paper's protocol
    # (spyx_core runs fused_spikes; spyx_core@fused computes the spikes apart, the previous default)
    for h in 128 512; do
        "${sb[@]}" run --task shd --frameworks spyx_core,spyx_core@fused "${common[@]}" \
            --hidden "$h" --batch-size 256 --time-steps 256 --samples 8156 --epochs 3 \
            --out "$out/shd-full-epoch-h$h-b256-t256"
        report "$out/shd-full-epoch-h$h-b256-t256"
    done
fi
