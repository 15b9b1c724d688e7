#!/usr/bin/env bash
# Table 2 on the CPU: `spikebench reproduce table2`, the paper's N-MNIST conv-net grid (width
# m in {1, 2} x batch B in {32, 64, 128}, T=64), for every installed framework that computes the
# canonical model exactly, on a reduced training set, then its report (tables and plot). Each cell
# times SAMPLES samples per epoch; the harness projects it to the paper's protocol, 20 epochs of
# its 30000 training samples (the grid's projected_epochs and reference_samples):
#   projected_epoch_s = epoch_s_median * (30000 // B) / (SAMPLES // B)
#   projected_total_s = compile_s + 20 * projected_epoch_s
# (the paper's N-MNIST totals exclude compilation; spyx_core's compile seconds are in the report
# beside them). With the real N-MNIST files present (DATA=auto finds them) each cell also measures
# its test accuracy after training; otherwise the synthetic twin, without accuracy. Run it on a
# quiet machine.
#
# Usage: scripts/cpu/table2.sh [SAMPLES]   (default 1024; at least 128, the largest batch)
#   writes $ROOT/table2-n<SAMPLES> (ROOT default results/cpu-2core); a second run resumes it.
#   EPOCHS (default 3: one warm-up, two timed), TIMEOUT per cell (default 3600 s), DATA (auto),
#   FRAMEWORKS (default: every exact framework that imports here, frameworks.available),
#   SPIKEBENCH (e.g. .venv/bin/spikebench) and PYTHON (e.g. .venv/bin/python) of one environment,
#   FIRST=N only the grid's first N configurations (reproduce --first).
# A smoke run: ROOT=/tmp/t2 EPOCHS=2 FIRST=1 scripts/cpu/table2.sh 128
set -euo pipefail
samples=${1:-${SAMPLES:-1024}}
out="${ROOT:-results/cpu-2core}/table2-n$samples"
sb=(${SPIKEBENCH:-spikebench})
py=(${PYTHON:-python3})
exact=$("${py[@]}" -c "import frameworks; print(','.join(frameworks.available(exact_only=True)))")
"${sb[@]}" reproduce table2 --frameworks "${FRAMEWORKS:-$exact}" --device cpu --data "${DATA:-auto}" \
    --samples "$samples" --epochs "${EPOCHS:-3}" --timeout "${TIMEOUT:-3600}" --out "$out" \
    ${FIRST:+--first "$FIRST"} \
    > /dev/null || echo "table2 had failed cells (recorded in its results)"
"${sb[@]}" report "$out" > /dev/null
echo "table: $out/report.md, $out/table2-epochs.csv, $out/table2-totals.csv, plot $out/table2.png"
