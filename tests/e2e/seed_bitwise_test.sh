#!/usr/bin/env bash
# Bit-identity of the seed configs' scaled-down runs (issue 22) against tests/data/seed_bitwise.json:
# the runs of seed_configs_test.sh, then only its bit-identity check. Skipped (77) on a CPU class other
# than the one the file was made on (LibTorch's kernels differ by instruction set).
exec env PGOLF_SEED_CHECK=bitwise bash "$(dirname "$0")/seed_configs_test.sh"
