#!/usr/bin/env bash
# One call on a machine with an NVIDIA GPU: cuda_standalone against
# cpp_standalone from 10^3 to 10^6 neurons (benchmarks/cuda_vs_cpp.py, the
# loop timed apart from set-up and result writing), a profile of the GPU loop
# and Brian2CUDA's per-synapse pushes, and, if time is left, `pytest -m cuda`.
#
#   OUT=/path/to/results bash benchmarks/gpu_session.sh
#
# Run from the repository root. Python packages missing on the machine come
# from wheels in .whl/ (numpy 1.26, scipy, Brian2 2.8.0, Brian2CUDA 1.0a7 for
# its Python), installed with bioadapt from this tree into /tmp/site. The
# whole script keeps within BUDGET seconds (default 420): builds run in
# parallel, every run has a time limit, and results are written after every
# run. Files in $OUT: cuda_vs_cpp_gpu.json and .md (the benchmark),
# environment.txt (machine, versions, GPU), session.log, workers.log,
# pytest_cuda.txt.
#
# Settings (environment): BUDGET, PYTHON (default python3), BENCH_ARGS
# (replaces the benchmark's sizes and variants), PYTEST=0 (no pytest).

set -u -o pipefail
T0=$(date +%s)
BUDGET=${BUDGET:-420}
PYTHON=${PYTHON:-python3}
OUT=${OUT:-$PWD/gpu_session_out}
mkdir -p "$OUT"
LOG="$OUT/session.log"
SITE=${SITE:-/tmp/site}
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1

elapsed() { echo $(( $(date +%s) - T0 )); }
left() { echo $(( BUDGET - $(elapsed) )); }
say() { echo "[$(elapsed) s] $*" | tee -a "$LOG"; }

# 1. packages
say "installing into $SITE"
if ls .whl/*.whl >/dev/null 2>&1; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl >>"$LOG" 2>&1 \
        || { say "installing .whl/*.whl failed (see session.log)"; exit 1; }
fi
"$PYTHON" -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --no-cache-dir --upgrade --target "$SITE" . >>"$LOG" 2>&1 \
    || { say "installing bioadapt from this tree failed (see session.log)"; exit 1; }
export PYTHONPATH="$SITE"
# never the source tree's bioadapt (its model files are installed as a package
# of their own): no current folder on sys.path, in child processes too
export PYTHONSAFEPATH=1
# bytecode now: Brian2CUDA's sources have escape sequences that Python 3.12
# warns about when it compiles them, and the tests turn warnings into errors
"$PYTHON" -m compileall -q "$SITE/brian2cuda" "$SITE/brian2" "$SITE/bioadapt" >/dev/null 2>&1

# 2. machine and environment
say "environment"
{
    echo "date: $(date -Is)"; uname -a; nproc; grep -m1 'model name' /proc/cpuinfo; free -g | head -2
    nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total,clocks.sm,clocks.mem --format=csv 2>&1
    nvcc --version 2>&1 | tail -2
    "$PYTHON" -P - <<'EOF' 2>&1
import importlib.metadata as md, sys
print("python", sys.version.split()[0])
for name in ("bioadapt", "brian2", "brian2cuda", "numpy", "scipy", "sympy", "jinja2", "torch", "pytest", "pytest-xdist"):
    try:
        print(name, md.version(name))
    except md.PackageNotFoundError:
        print(name, "missing")
import bioadapt, brian2, brian2cuda, numpy
from bioadapt.backends.brian import cuda
print("bioadapt from", bioadapt.__file__)
for what, find in (("toolkit", cuda.find_cuda_toolkit), ("gpus", cuda.find_gpus)):
    try:
        print(what, find())
    except Exception as exc:
        print(what, "error:", exc)
EOF
} >"$OUT/environment.txt" 2>&1
cat "$OUT/environment.txt" >>"$LOG"
"$PYTHON" -P -c "import bioadapt.backends.brian.standalone" 2>>"$LOG" || { say "bioadapt does not import (environment.txt)"; exit 1; }

# 3. the benchmark: 10^3..10^5 on both targets (in-degree 100), a profile of
#    cuda_standalone's loop at 10^5, then 10^6 (in-degree 10): cpp_standalone,
#    cuda_standalone without synapse bundles (Brian2CUDA's advice for bundles
#    of one or two synapses; fewer copies in its set-up), and as Brian2CUDA
#    ships it, with every second left (its set-up is the longest part)
PYTEST_RESERVE=0
[ "${PYTEST:-1}" = 1 ] && PYTEST_RESERVE=${PYTEST_RESERVE_S:-0}
DEADLINE=$(( $(left) - 15 - PYTEST_RESERVE ))
if [ -n "${BENCH_ARGS:-}" ]; then
    # shellcheck disable=SC2206
    ARGS=($BENCH_ARGS)
else
    ARGS=(--sizes 1e3,1e4,1e5 --in-degree 100 --steps 1000,1000,300
          --variant "cuda_standalone 1e5 profile steps=100"
          --variant "cpp_standalone 1e6 in_degree=10 steps=100"
          --variant "cuda_standalone 1e6 in_degree=10 steps=100 push_synapse_bundles=False"
          --variant "cuda_standalone 1e6 in_degree=10 steps=100"
          --parallel-builds 10 --build-timeout 240)
fi
say "benchmark, deadline ${DEADLINE} s: ${ARGS[*]}"
WORK=$(mktemp -d /tmp/bench_XXXX)
timeout -k 10 $(( DEADLINE + 10 )) "$PYTHON" -P benchmarks/cuda_vs_cpp.py "${ARGS[@]}" --deadline "$DEADLINE" --reserve 5 \
    --workdir "$WORK" --keep --out "$OUT" --name cuda_vs_cpp_gpu 2>&1 | tee -a "$LOG"
say "benchmark ended with status $?"
cp "$WORK"/*/workers.log "$OUT/workers.log" 2>/dev/null
rm -rf "$WORK"

# 4. the GPU tests of cuda_standalone, if there is time for them
L=$(left)
if [ "${PYTEST:-1}" = 1 ] && [ "$L" -gt 120 ] && "$PYTHON" -P -W error -c "import torch, numpy, xdist; torch.from_numpy(numpy.zeros(3))" 2>>"$LOG"; then
    # each test builds a CUDA project (about 450 s of CPU time): adlif and cadlif, or all 8
    SELECT=(-k "adlif"); WORKERS=2
    [ "$L" -gt 300 ] && { SELECT=(); WORKERS=8; }
    say "pytest -m cuda ${SELECT[*]} (${L} s left)"
    timeout -k 5 $(( L - 10 )) "$PYTHON" -P -m pytest -m cuda "${SELECT[@]}" -n "$WORKERS" -q -p no:cacheprovider --durations=10 >"$OUT/pytest_cuda.txt" 2>&1
    say "pytest ended with status $?"
    tail -5 "$OUT/pytest_cuda.txt" | tee -a "$LOG"
else
    say "pytest -m cuda not run (${L} s left, or torch/xdist do not import: session.log)"
fi
say "done; files in $OUT: $(ls "$OUT" | tr '\n' ' ')"
