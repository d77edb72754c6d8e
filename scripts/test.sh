#!/usr/bin/env bash
# Runs the whole test suite (unit, golden, e2e) after making sure the build is up to date.
# This is the README's test command; .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${PGOLF_BUILD_DIR:-build}
scripts/setup.sh
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" "$@"
