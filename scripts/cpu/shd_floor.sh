#!/usr/bin/env bash
# spyx_core's SHD epoch against its dense floor at H=128 and H=512 (C=128, B=256, T=256), in one
# process with interleaved rounds (scripts/cpu/shd_floor.py, docs/shd-floor.md): the floor with
# fresh and with already-mapped output buffers, the epoch per step at 2 and 8 steps per epoch and
# the marginal step between them, for spyx_core (fused) and spyx_core@fused_spikes. Twice: as the
# harness runs today, and with glibc backing its large blocks by transparent huge pages
# (GLIBC_TUNABLES=glibc.malloc.hugetlb=1: the per-call page faults of XLA's buffers go).
# Run it on a quiet machine. Usage: scripts/cpu/shd_floor.sh [OUT_DIR] (default results/cpu-2core/shd-floor)
set -euo pipefail
out=${1:-results/cpu-2core/shd-floor}
python=${PYTHON:-python}  # e.g. PYTHON=.venv/bin/python
floor=(scripts/cpu/shd_floor.py --hidden 128 512 --variants fused,fused_spikes --steps 2 8 --repeats 5)
mkdir -p "$out/default" "$out/hugetlb"
"$python" "${floor[@]}" --out "$out/default/samples.json" | tee "$out/default/summary.txt"
GLIBC_TUNABLES=glibc.malloc.hugetlb=1 "$python" "${floor[@]}" --out "$out/hugetlb/samples.json" \
    | tee "$out/hugetlb/summary.txt"
