#!/usr/bin/env bash
# The GPU run recipe: on a CUDA machine (online or offline), install what it lacks from the wheels
# made by prepare_wheels.sh, then run the paper's grids and the micro-benchmark on the GPU.
#
# Usage: scripts/gpu/run.sh OUT_DIR [WHEEL_DIR]
#   SAMPLES (default 2048) reduces the training set per cell; totals are projected to the full set.
#   EPOCHS (default 3: one warm-up and two timed), TIMEOUT per cell (default 300 s).
#   GRIDS (default "table1 micro"; add table2 once the N-MNIST task is present).
# Expected time on one H100/H200 with the defaults: ~10 min for table1 (dominated by the eager torch
# frameworks at ~10 s per full epoch), ~2 min for micro.
set -euo pipefail
out=${1:?usage: run.sh OUT_DIR [WHEEL_DIR]}
wheels=${2:-.whl}
site=${SPIKEBENCH_SITE:-/tmp/spikebench-site}
mkdir -p "$out"

python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target "$site" "$wheels"/*.whl
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # each cell measures what it uses, not a 75% pool
export PYTHONUNBUFFERED=1

{ nvidia-smi; python3 -c "import jax, torch; print(jax.devices(), torch.cuda.get_device_name())"; } \
    > "$out/device.txt" 2>&1
for grid in ${GRIDS:-table1 micro}; do
    python3 -m harness.cli reproduce "$grid" --device gpu --data synthetic \
        --frameworks "${FRAMEWORKS:-spyx_core,spyx_core@scan-unroll32,snntorch,norse}" \
        --epochs "${EPOCHS:-3}" ${SAMPLES_ARG:---samples ${SAMPLES:-2048}} \
        --timeout "${TIMEOUT:-300}" --out "$out/$grid" || echo "grid $grid had failed cells"
done
# spyx_core's implementations at the GPU targets' configuration (paper SHD, B=256, full precision):
# the fused default against Spyx's step-by-step scan, H=128 and H=512.
variants=spyx_core,spyx_core@fused-tf32,spyx_core@layerwise,spyx_core@fused-remat32
variants=$variants,spyx_core@scan,spyx_core@scan-unroll32
for h in 128 512; do
    python3 -m harness.cli run --task shd --device gpu --data synthetic --hidden "$h" \
        --batch-size 256 --time-steps 256 --epochs "${EPOCHS:-5}" \
        --frameworks "$variants" \
        --out "$out/spyx-core-variants-h$h" || echo "variants H=$h had failed cells"
done
