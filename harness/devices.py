"""Device slots: the places a cell can run, one cell per slot at a time.

On one machine a slot is one device: ``--devices 0,1`` gives two GPU slots, each cell run in slot
``k`` sees only GPU ``k`` (``CUDA_VISIBLE_DEVICES=k``). A CPU or TPU cell has one slot, the
machine, so CPU cells never time each other. Under Slurm a slot is one job, its GPUs Slurm's.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import SpikebenchError


class InvalidDevices(SpikebenchError):
    """A device list that this machine cannot honour (absent GPUs, the wrong device kind)."""


@dataclass(frozen=True)
class Slot:
    """One place a cell runs; ``visible_gpus`` is what its worker may see (None: left as it is)."""

    name: str
    visible_gpus: tuple[int, ...] | None = None

    def env(self) -> dict[str, str]:
        """The variables that confine a worker to this slot's devices."""
        if self.visible_gpus is None:
            return {}
        return {"CUDA_VISIBLE_DEVICES": ",".join(str(k) for k in self.visible_gpus)}

    @property
    def device_index(self) -> str:
        """What the row records as where it ran ("" when the slot does not confine)."""
        return self.env().get("CUDA_VISIBLE_DEVICES", "")


def parse_device_list(text: str) -> tuple[int, ...]:
    """``"0,1,3"`` as ``(0, 1, 3)``.

    Raises:
        InvalidDevices: not comma-separated non-negative integers, or one named twice.
    """
    try:
        indices = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise InvalidDevices(f"--devices takes GPU indices such as 0,1,2,3, got {text!r}") from None
    if not indices or min(indices) < 0:
        raise InvalidDevices(f"--devices takes GPU indices such as 0,1,2,3, got {text!r}")
    if len(set(indices)) < len(indices):
        raise InvalidDevices(f"--devices names a GPU twice ({text}): two cells would share it")
    return indices


def machine_slots(device: str, devices: tuple[int, ...] | None, present_gpus: int) -> list[Slot]:
    """The slots of this machine for cells on ``device``.

    Args:
        device: the cells' device (cpu, gpu, tpu).
        devices: ``--devices``, the GPU indices to use (None: one slot, the visible devices).
        present_gpus: how many GPUs this machine has (``len(environment.gpus())``).

    Raises:
        InvalidDevices: ``devices`` for a non-GPU device, or naming a GPU this machine lacks.
    """
    if devices is None:
        return [Slot(device)]
    if device != "gpu":
        raise InvalidDevices(
            f"--devices chooses GPUs, but the cells run on {device}: {device} cells run one at a time"
        )
    missing = [k for k in devices if k >= present_gpus]
    if missing:
        have = f"GPUs 0-{present_gpus - 1}" if present_gpus else "no NVIDIA GPU (nvidia-smi lists none)"
        named = ", ".join(map(str, missing))
        raise InvalidDevices(f"--devices names GPU {named}; this machine has {have}")
    return gpu_slots(devices)


def gpu_slots(devices: tuple[int, ...]) -> list[Slot]:
    """One slot per GPU index, unchecked (``machine_slots`` checks them against the machine)."""
    return [Slot(f"gpu {k}", (k,)) for k in devices]
