"""Deterministic regression gates: quantities that do not move with machine load.

At one tiny fixed configuration (the conformance task ``shd``: C=12, H=16, T=12, 16 samples,
B=8, seed 0): spyx_core's compiled epoch program's XLA ``cost_analysis`` FLOPs and
``memory_analysis`` bytes, the XLA compilations in each of the first two epochs after the
ahead-of-time compile (none: one program serves every epoch), the equivalence verdict of every
installed exact adapter against spyx_core, and the spike count of the micro-benchmark network's
output on its seeded input. ``tests/test_gates.py`` compares them with
``tests/baselines/gates.json``: counts and verdicts exactly, FLOPs and bytes within
``RELATIVE_TOLERANCE`` (XLA versions fuse differently). After an intended change, regenerate it:

    python -m harness.gates --update
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

BASELINE = Path(__file__).resolve().parent.parent / "tests" / "baselines" / "gates.json"
RELATIVE_TOLERANCE = 0.05
"""FLOPs and bytes may move this much (relative) between XLA versions before a gate fails."""
EXACT = ("compilations", "equivalence", "micro_output_spikes")
APPROXIMATE = ("flops", "bytes_accessed", "temp_bytes", "argument_bytes", "output_bytes")
EQUIVALENCE_FRAMEWORKS = ("snntorch", "norse", "torch_plain")
MICRO_N, MICRO_T, MICRO_B = 64, 50, 4


def _compilations(action) -> int:
    """How many XLA backend compilations ``action()`` triggers."""
    import jax
    from jax._src import dispatch, monitoring

    count = 0

    def listener(event: str, _seconds: float, **_: Any) -> None:
        nonlocal count
        count += event == dispatch.BACKEND_COMPILE_EVENT

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        action()
    finally:
        monitoring.unregister_event_duration_listener(listener)
    return count


def _program_gates() -> dict[str, Any]:
    import frameworks
    import spyx_core
    from frameworks.adapter import SpikeData
    from frameworks.conformance.tasks import TASKS

    task = TASKS["shd"]
    spikes, labels = task.batch(2 * task.batch_size, seed=1)
    data = SpikeData(spyx_core.pack_time(spikes), labels.astype(np.int32), task.spec.time_steps,
                     kind="synthetic", name="shd")  # fmt: skip
    session = frameworks.load("spyx_core").session(
        task.spec, task.weights(), data, device="cpu", batch_size=task.batch_size, seed=0
    )
    compiled = session.compiled()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost  # older JAX: one dict per program
    memory = compiled.memory_analysis()

    def epoch(index: int):
        return lambda: (session.train_epoch(index), session.synchronize())

    return {
        "flops": float(cost["flops"]),
        "bytes_accessed": float(cost["bytes accessed"]),
        "temp_bytes": int(memory.temp_size_in_bytes),
        "argument_bytes": int(memory.argument_size_in_bytes),
        "output_bytes": int(memory.output_size_in_bytes),
        "compilations": [_compilations(epoch(index)) for index in range(2)],
    }


def _equivalence() -> dict[str, bool]:
    """Each installed exact adapter's equivalence verdict against spyx_core (conformance task)."""
    import frameworks
    from frameworks.conformance.equivalence import compare
    from frameworks.conformance.tasks import TASKS

    task = TASKS["shd"]
    spikes, labels = task.batch(task.batch_size)
    reference = frameworks.load("spyx_core")
    verdicts = {}
    for name in EQUIVALENCE_FRAMEWORKS:
        if name in frameworks.available():
            report = compare(reference, frameworks.load(name), task.spec, task.weights(), spikes, labels)
            verdicts[name] = report.ok
    return verdicts


def _micro_spikes() -> int:
    import frameworks
    from frameworks.spec import init_weights, micro_input, micro_spec

    spec = micro_spec(MICRO_N, time_steps=MICRO_T)
    spikes = micro_input(spec, batch_size=MICRO_B, seed=0)
    kernels = frameworks.load("spyx_core").kernels(
        spec, init_weights(spec, seed=0), spikes, device="cpu"
    )
    return int(np.asarray(kernels.output(kernels.forward())).sum())


def measure() -> dict[str, Any]:
    """Every gate's value now (JAX on the CPU)."""
    return _program_gates() | {"equivalence": _equivalence(), "micro_output_spikes": _micro_spikes()}


def differences(baseline: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """The gates that moved: exact ones on any change, the others beyond the tolerance."""
    moved = [
        f"{k}: {baseline.get(k)!r} -> {now.get(k)!r}" for k in EXACT if baseline.get(k) != now.get(k)
    ]
    for key in APPROXIMATE:
        old, new = baseline.get(key), now.get(key)
        if old is None or new is None or abs(new - old) > RELATIVE_TOLERANCE * abs(old):
            moved.append(f"{key}: {old!r} -> {new!r} (beyond {RELATIVE_TOLERANCE:.0%})")
    return moved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.gates", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--update", action="store_true", help=f"rewrite {BASELINE.name}")
    args = parser.parse_args(argv)
    now = measure()
    if args.update:
        BASELINE.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
        print(f"written: {BASELINE}")
        return 0
    moved = differences(json.loads(BASELINE.read_text()), now)
    print("\n".join(moved) or "every gate as in the baseline")
    return 1 if moved else 0


if __name__ == "__main__":
    sys.exit(main())
