"""Small hand-made result rows for the results, report and summary tests."""

from __future__ import annotations

from harness.results import Row

SHD_ROW = dict(
    task="shd", device="cpu", data="synthetic", hidden=16, batch_size=8, time_steps=16, n_samples=16
)


def shd_row(framework: str, epoch_s: float, loss: float, **fields) -> Row:
    """An ok SHD row of ``SHD_ROW``'s configuration (``fields`` override), its median and first loss."""
    return Row(framework=framework, epoch_s_median=epoch_s, loss_first_step=loss, **(SHD_ROW | fields))
