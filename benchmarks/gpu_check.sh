#!/usr/bin/env bash
# GPU check (issue 18.2), prepared for a session that is lent a CUDA device machine.
#
#   bash benchmarks/gpu_check.sh            # CUDA tests + bench_fond on CUDA (~2 min)
#   WITH_CPU=1 bash benchmarks/gpu_check.sh # ... + the CPU inference bench on the same host
#
# Needs a Python with a CUDA build of torch and neurofond importable from this checkout
# (`pip install -e .`, or PYTHONPATH=$PWD after `python setup.py build_ext --inplace`); set
# PYTHON to use another interpreter than .venv/bin/python. Writes, under OUT (default
# benchmarks/results/gpu):
#   gpu_check_env.txt       torch / CUDA / GPU / driver versions
#   gpu_check_tests.log     pytest -rs of tests/test_cuda.py (fails the script if a test fails;
#                           skipped tests are listed with their reason)
#   bench_fond_cuda.json    inference throughput on the GPU (B=1000, K=512, 200 steps) with
#                           the same variants and JSON layout as bench_fond_sparse.json
#   bench_fond_sparse.json  (WITH_CPU=1) the CPU run on the same host, for the GPU/CPU ratio
# Record the figures in docs/benchmarks.md, section "GPU". First run: 2026-12-04 on an H200
# (4.8 min with WITH_CPU=1, the C extension built in place; PYTHON=python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=${OUT:-benchmarks/results/gpu}
mkdir -p "$OUT"

"$PY" - <<'PYEOF' | tee "$OUT/gpu_check_env.txt"
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda)
if not torch.cuda.is_available():
    raise SystemExit("gpu_check: torch.cuda.is_available() is False: no CUDA device here")
for i in range(torch.cuda.device_count()):
    p = torch.cuda.get_device_properties(i)
    print(f"cuda:{i}", p.name, f"{p.total_memory / 2**30:.1f} GiB")
PYEOF
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >> "$OUT/gpu_check_env.txt" || true

set +e  # run the benchmark even if a test fails (device time is scarce); fail at the end
"$PY" -m pytest -q -rs -p no:cacheprovider tests/test_cuda.py 2>&1 | tee "$OUT/gpu_check_tests.log"
tests_status=${PIPESTATUS[0]}
set -e

"$PY" benchmarks/bench_fond.py --device cuda --inference-only --out "$OUT" > /dev/null
echo "wrote $OUT/bench_fond_cuda.json"
if [ "${WITH_CPU:-0}" = "1" ]; then
    "$PY" benchmarks/bench_fond.py --inference-only --out "$OUT" > /dev/null
    echo "wrote $OUT/bench_fond_sparse.json"
fi
"$PY" - "$OUT" <<'PYEOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
gpu = json.loads((out / "bench_fond_cuda.json").read_text())
for key, row in gpu["inference"].items():
    print(f"{key:28s} {row['patch_steps_per_s']:12.0f} patch-steps/s  peak RSS "
          f"{row['peak_rss_mb']:.0f} MB  sgemm {row['sgemm']['gflops_wall']:.0f} GFLOP/s")
cpu_path = out / "bench_fond_sparse.json"
if cpu_path.exists():
    cpu = json.loads(cpu_path.read_text())["inference"]
    g, c = gpu["inference"]["neurofond@1"], cpu["neurofond@1"]
    print("GPU / CPU (1 thread):", g["patch_steps_per_s"] / c["patch_steps_per_s"])
PYEOF
if [ "$tests_status" -ne 0 ]; then
    echo "gpu_check: tests/test_cuda.py failed (status $tests_status), see $OUT/gpu_check_tests.log"
    exit "$tests_status"
fi
