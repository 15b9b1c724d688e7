#!/usr/bin/env bash
# What each canonical choice costs snnTorch in the Open Neuromorphic micro-benchmark (Linear(n, n)
# + LIF, B=16, T=500, n=512 and 4096 as ONM): the canonical snnTorch network beside the variants
# that drop one choice for snnTorch's default (docs/idioms.md), and all of them, Leaky(beta=0.95).
# Run it on a quiet machine. Nothing is typed in: every number comes from the harness's rows.
# Usage: scripts/cpu/snntorch_ablation.sh [OUT]   (default results/cpu-2core/snntorch-ablation)
#   SIZES (default 512,4096): the micro-benchmark's n.
set -euo pipefail
out=${1:-results/cpu-2core/snntorch-ablation}
sb=(${SPIKEBENCH:-spikebench})  # e.g. SPIKEBENCH=.venv/bin/spikebench
py=${PYTHON:-python3}           # with pandas, e.g. PYTHON=.venv/bin/python
variants=snntorch,snntorch@scalar-beta,snntorch@atan,snntorch@defaults
"${sb[@]}" reproduce micro --device cpu --frameworks "spyx_core,$variants" --sizes "${SIZES:-512,4096}" \
    --timeout 900 --out "$out" || echo "the ablation had failed cells (recorded in its results)"
"${sb[@]}" report "$out" > /dev/null
# ms per call of each variant and its factor against the canonical snntorch row of the same n.
"$py" - "$out/results.csv" <<'PY' | tee "$out/ablation.md"
import sys

import pandas as pd

rows = pd.read_csv(sys.argv[1])
rows = rows[(rows.status == "ok") & rows.framework.str.startswith("snntorch")]
base = rows[rows.framework == "snntorch"].set_index("hidden")
table = pd.DataFrame(
    {
        "variant": rows.framework,
        "n": rows.hidden,
        "forward ms": (rows.forward_s_median * 1e3).round(1),
        "fwd+bwd ms": (rows.step_s_median * 1e3).round(1),
        "forward / snntorch": (rows.forward_s_median / rows.hidden.map(base.forward_s_median)).round(2),
        "fwd+bwd / snntorch": (rows.step_s_median / rows.hidden.map(base.step_s_median)).round(2),
        "differs from the canonical model": rows.semantics.fillna(""),
    }
).sort_values(["n", "variant"])
print(table.to_markdown(index=False))
PY
echo "tables: $out/ablation.md (this one), $out/report.md (section 'micro')"
