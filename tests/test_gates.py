"""The deterministic gates (harness/gates.py) against tests/baselines/gates.json.

After an intended change of the compiled program, the equivalence or the spike count, regenerate
the baseline with ``python -m harness.gates --update`` and commit it with the change.
"""

from __future__ import annotations

import json

from harness.gates import BASELINE, differences, measure


def test_gates_match_the_committed_baseline():
    moved = differences(json.loads(BASELINE.read_text()), measure())
    assert moved == [], "gates moved (python -m harness.gates --update if intended):\n" + "\n".join(
        moved
    )


def test_gates_flag_any_count_change_and_cost_changes_beyond_the_tolerance():
    baseline = json.loads(BASELINE.read_text())
    assert baseline["compilations"] == [0, 0]  # one compiled program serves every epoch
    assert differences(baseline, baseline) == []
    assert differences(baseline, baseline | {"flops": baseline["flops"] * 1.01}) == []
    moved = differences(baseline, baseline | {"flops": baseline["flops"] * 1.2, "compilations": [1, 0]})
    assert [line.split(":")[0] for line in moved] == ["compilations", "flops"]
    assert differences(baseline, baseline | {"equivalence": {"snntorch": False}})[0].startswith("equiv")
