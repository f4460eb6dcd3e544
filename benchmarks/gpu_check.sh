#!/usr/bin/env bash
# One prepared accelerator check: correctness and speed of spft-jax on a GPU in one short run
# (<= 8 minutes on one H100/H200), results in one folder: gpu_check.json, gpu_check.md and
# gpu_check.log. What it checks, part by part: benchmarks/gpu_check/check.py.
#
# The device procedure, in two steps:
#   1. Here, on the development machine, once per checkout (network needed):
#        bash benchmarks/gpu_check_prepare.sh
#      It fills build/gpu_wheels/ (ignored by git) with the wheels of the project's pure-Python
#      pins the device image lacks, and a SmolLM2 GGUF cut to as many layers as fit the
#      64 MiB a device call carries.
#   2. One device call, from the repository root, carrying that folder:
#        run(command="bash benchmarks/gpu_check.sh", carry=["build/gpu_wheels"], timeout_s=540)
#      The results land in $OUT (or give a folder: --out DIR). To rerun only some parts:
#        bash benchmarks/gpu_check.sh --parts tiny_pipeline,sampler_throughput
#
# On this machine, the same parts with tiny sizes on the CPU (what the test suite runs):
#   bash benchmarks/gpu_check.sh --cpu --out /tmp/gpu_check
#
# Usage: gpu_check.sh [--cpu] [--out DIR] [--parts NAME,...] [--budget SECONDS]
# Every argument goes to benchmarks/gpu_check/check.py (--help lists them).
#
# Optional:
#   PYTHON    the interpreter (default: python3, which on the device image is the one with
#             torch, JAX and its CUDA plugin)
#   WHEELS    the folder gpu_check_prepare.sh filled: wheels to install first and the SmolLM2
#             file (default: build/gpu_wheels; --cpu uses this machine's packages instead)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
WHEELS="${WHEELS:-build/gpu_wheels}"

cpu=0
for arg in "$@"; do
  if [[ "$arg" == "--cpu" ]]; then cpu=1; fi
done

# The device machine reaches no package index: the carried wheels are installed without one,
# into a folder of their own put first on the path (they are only what the image lacks).
shopt -s nullglob
wheels=("$WHEELS"/*.whl)
if [[ "$cpu" == 0 && ${#wheels[@]} -gt 0 ]]; then
  site="$(mktemp -d /tmp/gpu_check_site.XXXXXX)"
  echo "gpu_check: installing ${#wheels[@]} carried wheels into $site"
  PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install -q --no-index --no-deps --no-compile \
    --no-cache-dir --upgrade --target "$site" "${wheels[@]}"
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
elif [[ "$cpu" == 0 ]]; then
  echo "gpu_check: no wheels in $WHEELS (run benchmarks/gpu_check_prepare.sh here first);" \
    "going on with the installed packages" >&2
fi
# The repository is not installed on the device machine: make it importable as it is.
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

status=0
"$PYTHON" benchmarks/gpu_check/check.py --prepared "$WHEELS" "$@" || status=$?
if [[ -n "${site:-}" ]]; then rm -rf "$site"; fi
exit "$status"
