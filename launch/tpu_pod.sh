#!/usr/bin/env bash
# Runs `python -m spft_jax.main` on every worker of a Cloud TPU VM pod slice, over
# `gcloud compute tpus tpu-vm ssh --worker=all`. Each worker runs the same command;
# jax.distributed.initialize() finds the coordinator, process count and process id from the TPU
# metadata, so only --config.distributed.enabled=true is added (no coordinator address).
#
# Required:
#   TPU_NAME   the TPU VM (pod slice) name
#   ZONE       its zone, e.g. us-central2-b
#   REPO_DIR   the checkout on every worker, absolute or relative to the login home (no "~")
#   CONFIG     config file, relative to REPO_DIR, e.g. configs/qwen_0_5b.py
#   WORKDIR    the run's directory, one path that every worker sees: a shared POSIX
#              filesystem (Filestore/NFS) or a Cloud Storage FUSE mount of a bucket (mount
#              options in docs/platforms.md). Orbax writes each worker's shards into the same
#              checkpoint directory and the pipeline writes its other files with pathlib, so a
#              gs:// URL does not work.
#
# Optional:
#   PROJECT           gcloud project (default: gcloud's configured one)
#   PYTHON            Python on the workers (default: python3)
#   VENV              a virtualenv on the workers whose bin/ goes first on PATH
#   LIBTPU_INIT_ARGS  exported on every worker (TPU compiler flags; see docs/platforms.md)
#
# Usage:
#   launch/tpu_pod.sh [--sync] [--install] [--dry-run] [--] [MAIN_ARGS...]
#     --sync     first copy this checkout (tracked and untracked, not ignored files) to REPO_DIR
#                on every worker; it adds and overwrites, it does not delete
#     --install  first pip-install the requirements and jax[tpu] (same jax version) on every worker
#     --dry-run  print the commands instead of running them
#     MAIN_ARGS  passed to spft_jax.main, e.g. --mode=sft --config.train.learning_rate=1e-5
#
# Example:
#   TPU_NAME=spft-v5p-32 ZONE=us-east5-a REPO_DIR=spft-jax CONFIG=configs/qwen_7b.py \
#   WORKDIR=/mnt/filestore/runs/qwen7b launch/tpu_pod.sh --sync --install --mode=pipeline
#
# Stopping: Ctrl-C here may leave the Python processes running on the workers (the TPU then
# reports "in use"); `sudo lsof -w /dev/accel0` on a worker shows what holds it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REMOTE_TARBALL=/tmp/spft_jax_source.tgz  # where --sync puts the packed checkout on each worker

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

die() {
  echo "tpu_pod.sh: $*" >&2
  exit 2
}

sync=false install=false dry_run=false
while (($#)); do
  case "$1" in
    --sync) sync=true ;;
    --install) install=true ;;
    --dry-run) dry_run=true ;;
    -h | --help) usage; exit 0 ;;
    --) shift; break ;;
    *) break ;;
  esac
  shift
done

for name in TPU_NAME ZONE REPO_DIR CONFIG WORKDIR; do
  [[ -n "${!name:-}" ]] || die "missing required variable $name (see --help)"
done
[[ "$WORKDIR" != gs://* ]] || die "WORKDIR=$WORKDIR: use a mounted path, not a gs:// URL (see --help)"

gcloud_target=(--zone "$ZONE" --worker=all)
[[ -z "${PROJECT:-}" ]] || gcloud_target+=(--project "$PROJECT")

# The words "$@" as one line that a shell reads back as the same words: a word with nothing
# special stays bare, any other goes in single quotes (readable in --dry-run and in --command).
quote() {
  local word words=()
  for word in "$@"; do
    if [[ "$word" =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
      words+=("$word")
    else
      words+=("'${word//\'/\'\\\'\'}'")
    fi
  done
  echo "${words[*]}"
}

# Runs "$@", or with --dry-run prints it.
run() {
  if "$dry_run"; then
    quote "$@"
  else
    "$@"
  fi
}

# Runs a shell command line on every worker, from REPO_DIR, with the optional environment.
on_workers() {
  local prefix
  prefix="cd $(quote "$REPO_DIR")"
  [[ -z "${VENV:-}" ]] || prefix+=" && export PATH=$(quote "$VENV/bin"):\$PATH"
  [[ -z "${LIBTPU_INIT_ARGS:-}" ]] || prefix+=" && export LIBTPU_INIT_ARGS=$(quote "$LIBTPU_INIT_ARGS")"
  run gcloud compute tpus tpu-vm ssh "$TPU_NAME" "${gcloud_target[@]}" --command "$prefix && $1"
}

python="$(quote "${PYTHON:-python3}")"

if "$sync"; then
  tarball="${TMPDIR:-/tmp}/spft_jax_source.XXXXXX"
  if "$dry_run"; then
    echo "# pack $ROOT (git ls-files --cached --others --exclude-standard) into $tarball"
  else
    tarball="$(mktemp "$tarball")"
    trap 'rm -f "$tarball"' EXIT
    git -C "$ROOT" ls-files -z --cached --others --exclude-standard \
      | tar -C "$ROOT" --null -T - -czf "$tarball"
  fi
  run gcloud compute tpus tpu-vm scp "$tarball" "$TPU_NAME:$REMOTE_TARBALL" "${gcloud_target[@]}"
  repo="$(quote "$REPO_DIR")"
  run gcloud compute tpus tpu-vm ssh "$TPU_NAME" "${gcloud_target[@]}" \
    --command "mkdir -p $repo && tar -xzf $REMOTE_TARBALL -C $repo"
fi

if "$install"; then
  jax_version="$(sed -n 's/^jax==//p' "$ROOT/requirements.txt")"
  [[ -n "$jax_version" ]] || die "no 'jax==' pin in $ROOT/requirements.txt"
  on_workers "$python -m pip install -r requirements.txt -e . \
&& $python -m pip install --no-deps -r requirements-nodeps.txt \
&& $python -m pip install 'jax[tpu]==$jax_version'"
fi

main_command=("${PYTHON:-python3}" -m spft_jax.main "--config=$CONFIG" "--workdir=$WORKDIR"
  --config.distributed.enabled=true "$@")
on_workers "$(quote "${main_command[@]}")"
