#!/usr/bin/env bash
# Create ./.venv and install neurofond with everything it needs (CPU-only torch, brainscore-vision).
# Usage: bash setup.sh            (VENV=path and PYTHON=python3.11 may be set)
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
"$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip)
"${PIP[@]}" install -q --upgrade pip
# torch is pinned to the CPU wheel through constraints.txt (an unpinned torch pulls GBs of CUDA).
"${PIP[@]}" install -q -c constraints.txt -e ".[dev,scale,docs]"
# brainscore-vision declares heavy extras (jupyter, torchvision without a CPU build): install it
# without dependencies, then the dependencies it needs at run time (docs/install.md).
"${PIP[@]}" install -q --no-deps brainscore-vision==2.4.2 brainscore-core==2.5.0
"${PIP[@]}" install -q -c constraints.txt result-caching netCDF4 boto3 pillow psutil pyyaml h5py
"$VENV/bin/python" -c "import neurofond, torch, brainscore_core; from neurofond.fond.sampling import compiled_sampler_available as c; print('neurofond', neurofond.__version__, 'torch', torch.__version__, 'compiled spike sampler', c())"
