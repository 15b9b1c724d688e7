#!/usr/bin/env bash
# The GPU run recipe, unattended: on a CUDA machine (online or offline), install what it lacks from
# the wheels made by prepare_wheels.sh, then run scripts/gpu/recipe.py: the paper's Table 1 and
# Table 2 grids and the micro-benchmark at the paper's sizes (with the Spyx paper-idiom row
# spyx@paper when it is registered and Spyx imports), the TF32 variants in their own folder, and
# spyx_core's implementations side by side; every folder with its report, OUT/README.md the index.
#
# Usage: scripts/gpu/run.sh OUT_DIR [WHEEL_DIR]   (run it in the repository root)
#   SIZE=paper (default) | tiny (each grid's first configuration, one batch: a smoke run)
#   DEVICE=gpu (default) | cpu; FRAMEWORKS, TF32_FRAMEWORKS, VARIANTS, EPOCHS (default 3: one
#   warm-up, two timed), SAMPLES, TIMEOUT, DATA, DATA_DIR: see scripts/gpu/recipe.py.
# A resumed run (the same OUT_DIR) keeps every finished cell. Without wheels in WHEEL_DIR nothing
# is installed (a machine that already has the packages).
set -euo pipefail
out=${1:?usage: run.sh OUT_DIR [WHEEL_DIR]}
wheels=${2:-.whl}
site=${SPIKEBENCH_SITE:-/tmp/spikebench-site}
python=${PYTHON:-python3}
mkdir -p "$out"

if compgen -G "$wheels/*.whl" > /dev/null; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --upgrade --target "$site" "$wheels"/*.whl
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's harness, as it is here
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # each cell measures what it uses, not a 75% pool
export PYTHONUNBUFFERED=1

{ nvidia-smi || true; "$python" -c "import jax, torch; print(jax.devices(), torch.cuda.is_available())"; } \
    > "$out/device.txt" 2>&1 || true
"$python" scripts/gpu/recipe.py "$out" 2>&1 | tee -a "$out/recipe.log"
