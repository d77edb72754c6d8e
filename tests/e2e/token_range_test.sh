#!/usr/bin/env bash
# Token ids outside the vocabulary (issue #17, item 4) are found when the loader opens a shard,
# before any training step, in a train shard and in the validation split alike: exit 2 and a
# message naming the file, the token offset and the id.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"
fault_setup
poke() {  # poke FILE OFFSET ID: token OFFSET of shard FILE becomes ID
  "$PY" -c 'import struct,sys; f=open(sys.argv[1],"r+b"); f.seek(1024+2*int(sys.argv[2])); f.write(struct.pack("<H",int(sys.argv[3])))' "$@"
}
for split in train val; do
  tiny_data "$OUT/$split" 1 40000
  tiny_config "$OUT/$split.json" "$OUT/$split" 5
  shard="$OUT/$split/fineweb_${split}_000000.bin"
  poke "$shard" 777 1500
  expect_exit 2 timeout 120 "$PGOLF_BIN" train --config "$OUT/$split.json" --out-dir "$OUT" --run-id "$split"
  grep -q "^error: shard $shard: token id 1500 at token offset 777 (byte 2578) is outside the vocabulary \[0, 1024)" /tmp/pgolf_e2e_out.$$ || {
    cat /tmp/pgolf_e2e_out.$$ >&2; fail "$split: the error does not name the file, offset and id"; }
  ! grep -q '"event":"train"' "$OUT/$split/metrics.jsonl" 2>/dev/null || fail "$split: training started before the check"
done
pass
