#!/usr/bin/env bash
# Run on a connected machine, in the repository root: gathers, as wheels in .whl/, everything an
# offline CUDA node lacks to run spikebench (docs/install.md, "Offline CUDA nodes": such a node
# has Python 3.12, jax+CUDA, torch+CUDA, numpy, optax, pandas, matplotlib, pytest, tqdm).
# Usage: scripts/gpu/prepare_wheels.sh [PYTHON_VERSION]   (default 3.12)
set -euo pipefail
py=${1:-3.12}
mkdir -p .whl
platforms=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64
           --platform manylinux2014_x86_64 --platform any)
# Pure-Python packages the node lacks, pinned to the versions the project is tested with.
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$py" --implementation cp \
    "${platforms[@]}" -d .whl \
    dm-haiku==0.0.17 jmp==0.0.4 nir==1.0.8 nirtorch==2.6 snntorch==1.0.0 tabulate
# norse publishes only an sdist; its C++ part is optional and never compiled here.
python3 -m pip wheel -q --no-deps norse==1.1.0 -w .whl
# spikebench itself, so that its entry points (the framework registry) are installed too.
python3 -m pip wheel -q --no-deps . -w .whl
ls -l .whl
