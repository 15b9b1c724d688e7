#!/usr/bin/env bash
# The checks at the paper's sizes on the CPU, most important first (run on a quiet machine:
# nothing else on the cores). Each step is a harness command writing its own folder with a report;
# nothing is typed in. The Spyx rows need Spyx importable (the `.[spyx]` extra, or PYTHONPATH).
# Usage: scripts/cpu/paper_sizes.sh [OUT_ROOT]   (default results/cpu-2core)
#   STEPS (default "shd nmnist ablation trajectory table2"): which steps to run.
set -euo pipefail
root=${1:-results/cpu-2core}
sb=(${SPIKEBENCH:-spikebench})  # e.g. SPIKEBENCH=.venv/bin/spikebench
common=(--device cpu --data synthetic)
steps=" ${STEPS:-shd nmnist ablation trajectory table2} "
here=$(dirname "$0")

run_report() {  # OUT, then the `spikebench run` arguments
    local out=$1; shift
    "${sb[@]}" run "$@" "${common[@]}" --out "$out" || echo "$out had failed cells (recorded in its rows)"
    "${sb[@]}" report "$out" > /dev/null
}

if [[ $steps == *" shd "* ]]; then
    # The paper's SHD configuration (C=128, H=128, B=256, T=256), 1024 samples: activity, first-step
    # loss, step-by-step agreement, x floor; Spyx as the paper's notebook runs it beside spikebench's.
    run_report "$root/shd-paper-config-n1024" --task shd \
        --frameworks spyx_core,snntorch,norse,torch_plain,spyx,spyx@paper,spyx_core@fused_spikes \
        --hidden 128 --batch-size 256 --time-steps 256 --samples 1024 --epochs 3
    run_report "$root/shd-h512-b256-t256-n512" --task shd \
        --frameworks spyx_core,spyx_core@fused_spikes,snntorch \
        --hidden 512 --batch-size 256 --time-steps 256 --samples 512 --epochs 3
fi
if [[ $steps == *" nmnist "* ]]; then
    # The N-MNIST conv net (Table 2's workload), width 1 and 2, 256 samples (8 steps of B=32).
    run_report "$root/nmnist-m1-b32" --task nmnist --width 1 \
        --frameworks "${NMNIST_FRAMEWORKS:-spyx_core,spyx_core@epoch,snntorch,norse,torch_plain}" \
        --batch-size 32 --time-steps 64 --samples 256 --epochs 3
    run_report "$root/nmnist-m2-b32" --task nmnist --width 2 --frameworks spyx_core,snntorch \
        --batch-size 32 --time-steps 64 --samples 256 --epochs 3
fi
if [[ $steps == *" ablation "* ]]; then
    SIZES=${SIZES:-512} "$here/snntorch_ablation.sh" "$root/snntorch-ablation"
fi
if [[ $steps == *" trajectory "* ]]; then
    "$here/trajectory.sh" "$root"
fi
if [[ $steps == *" table2 "* ]]; then
    FRAMEWORKS=${TABLE2_FRAMEWORKS:-spyx_core,snntorch,norse,torch_plain} \
        ROOT=$root "$here/table2.sh" "${TABLE2_SAMPLES:-128}"
fi
