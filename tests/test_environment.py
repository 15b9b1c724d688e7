"""``harness.environment``: what a run records about the variables and kernel settings that change
its timing, and the report's sentence about them."""

from __future__ import annotations

from harness.environment import hugepage_mode, timing_variables
from harness.report import _environment_lines


def test_a_run_records_the_timing_variables_that_are_set_and_only_those():
    environ = {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1", "XLA_FLAGS": "--xla_cpu_use_thunk_runtime",
               "HOME": "/root", "PATH": "/bin"}  # fmt: skip
    assert timing_variables(environ) == {
        "XLA_FLAGS": "--xla_cpu_use_thunk_runtime",
        "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1",
    }
    assert timing_variables({"HOME": "/root"}) == {}


def test_the_huge_page_mode_is_the_bracketed_word(tmp_path):
    path = tmp_path / "enabled"
    path.write_text("always [madvise] never\n")
    assert hugepage_mode(path) == "madvise"
    assert hugepage_mode(tmp_path / "absent") == ""


def test_the_report_names_the_variables_a_run_started_with():
    plain = {"git_commit": "abc", "command": "spikebench run"}
    assert "Started with" not in _environment_lines(plain)
    tuned = plain | {"timing_variables": {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}}
    assert _environment_lines(tuned).endswith(" Started with `GLIBC_TUNABLES=glibc.malloc.hugetlb=1`.")
