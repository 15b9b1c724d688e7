#!/usr/bin/env bash
# The two interleaved comparisons committed under results/cpu-2core: the same commit against itself
# (every cell should read "same"), and against itself with snnTorch's steps made 0.05 s slower by the
# test-only SPIKEBENCH_TEST_SLOWDOWN (its cell should read "slower", the others "same";
# docs/regression.md). Run on a quiet machine.
# Usage: scripts/cpu/interleave.sh [OUT_ROOT]   (default results/cpu-2core)
set -euo pipefail
out=${1:-results/cpu-2core}
sb=(${SPIKEBENCH:-spikebench})  # e.g. SPIKEBENCH=.venv/bin/spikebench
base=$(mktemp -d)/base
git worktree add --detach "$base" HEAD >/dev/null
trap 'git worktree remove --force "$base"' EXIT

"${sb[@]}" compare --interleave "$base" . --out "$out/interleave-same-commit" \
    --markdown-out "$out/interleave-same-commit.md" || echo "exit $? (0 expected)"
SPIKEBENCH_TEST_SLOWDOWN=snntorch:0.05 "${sb[@]}" compare --interleave "$base" . \
    --out "$out/interleave-slowdown-snntorch" --markdown-out "$out/interleave-slowdown-snntorch.md" \
    || echo "exit $? (1 expected: a slower cell)"
