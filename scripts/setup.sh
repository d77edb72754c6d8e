#!/usr/bin/env bash
# pgolf set-up for Debian 12: installs dependencies (apt + the PyPI torch wheel), configures and
# builds with ccache and a precompiled torch header, and prepares the smoke dataset.
# Idempotent: re-running only does what is missing. Reuses an existing torch installation.
#   PGOLF_TORCH_VERSION  torch wheel to install when none is present (default 2.15.0)
#   PGOLF_PYTHON         python interpreter to use (default: python3 with torch, else python3)
#   PGOLF_BUILD_DIR      build folder (default build)
#   PGOLF_SKIP_DATA=1    do not prepare the smoke dataset
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TORCH_VERSION=${PGOLF_TORCH_VERSION:-2.15.0}
BUILD_DIR=${PGOLF_BUILD_DIR:-build}

say() { echo "[setup] $*"; }
die() { echo "[setup] ERROR: $*" >&2; exit 1; }

APT_PACKAGES=(build-essential cmake ninja-build ccache lld git pkg-config python3 python3-pip python3-venv
  libsentencepiece-dev sentencepiece libzstd-dev zstd libbrotli-dev liblzma-dev lrzip
  libcli11-dev nlohmann-json3-dev
  libgloo-dev libgtest-dev googletest bible-kjv bible-kjv-text dict-devil jargon-text
  chromium)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "missing apt packages (${missing[*]}) and no sudo to install them"
    SUDO=sudo
  fi
  say "installing apt packages: ${missing[*]}"
  $SUDO apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null || die "apt-get install failed for: ${missing[*]}"
else
  say "apt packages present"
fi

# Python with torch: reuse one that already has torch (RunPod images), else install the pinned wheel,
# into a project venv when the system Python is externally managed (PEP 668).
pick_python() {
  for py in ${PGOLF_PYTHON:-} python3 "$ROOT/.venv/bin/python3"; do
    [[ -n "$py" ]] && command -v "$py" >/dev/null 2>&1 && "$py" -c "import torch" 2>/dev/null && {
      command -v "$py"; return 0; }
  done
  return 1
}
if PY=$(pick_python); then
  say "reusing torch $("$PY" -c 'import torch;print(torch.__version__)') from $PY"
else
  say "installing torch==$TORCH_VERSION (large download: the CUDA-enabled wheel)"
  if python3 -m pip install -q "torch==$TORCH_VERSION" 2>/tmp/pgolf_pip.log; then
    PY=$(command -v python3)
  else
    grep -q externally-managed /tmp/pgolf_pip.log || { cat /tmp/pgolf_pip.log >&2; die "pip install torch failed"; }
    say "system Python is externally managed: using $ROOT/.venv"
    python3 -m venv "$ROOT/.venv" || die "python3 -m venv failed (is python3-venv installed?)"
    "$ROOT/.venv/bin/pip" install -q "torch==$TORCH_VERSION" || die "pip install torch==$TORCH_VERSION failed"
    PY="$ROOT/.venv/bin/python3"
  fi
fi
"$PY" -c "import zstandard" 2>/dev/null || "$PY" -m pip install -q zstandard 2>/dev/null \
  || "$PY" -m pip install -q --break-system-packages zstandard 2>/dev/null || say "note: python zstandard not installed (interop tests use the zstd CLI)"
TORCH_PREFIX=$("$PY" -c 'import torch;print(torch.utils.cmake_prefix_path)') || die "cannot locate torch's cmake files"

say "configuring $BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" \
  -DPGOLF_PYTHON="$PY" >/dev/null || die "cmake configure failed (run it by hand to see why)"
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
say "building with $(nproc) jobs"
cmake --build "$BUILD_DIR" -j"$(nproc)" || die "build failed"

if [[ "${PGOLF_SKIP_DATA:-0}" != 1 ]]; then
  PGOLF_BIN="$ROOT/$BUILD_DIR/pgolf" scripts/prepare_smoke_data.sh || die "smoke data preparation failed"
fi
say "done: $BUILD_DIR/pgolf --version"
"$BUILD_DIR/pgolf" --version
