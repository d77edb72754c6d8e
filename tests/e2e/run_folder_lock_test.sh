#!/usr/bin/env bash
# Run folders are not shared or silently reused (issue #17, item 1):
#  a. while a run trains, a second `pgolf train` with the same RUN_ID, a `--resume` of it and a
#     2-rank `pgolf launch` onto it all exit 2 naming the folder and the process holding it, and
#     change nothing in it;
#  b. the lock dies with its process: after a SIGKILL the folder can be used at once;
#  c. a folder holding a finished run is refused (the message names the folder and --overwrite),
#     its submission.json and train.log untouched; --overwrite replaces that run;
#  d. the ranks of one `pgolf launch` run share their folder (rank 0 holds the lock).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"
fault_setup
tiny_data "$OUT/data" 1 40000
tiny_config "$OUT/tiny.json" "$OUT/data" 3000
# As every record preset: no periodic checkpoint, so only the lock and the finished-run check
# protect the folder.
sed -i 's/"checkpoint_every": 1/"checkpoint_every": 0/' "$OUT/tiny.json"
grep -q '"checkpoint_every": 0' "$OUT/tiny.json" || fail "could not set checkpoint_every 0"
TRAIN=(train --config "$OUT/tiny.json" --out-dir "$OUT")
says() { grep -q -- "$1" /tmp/pgolf_e2e_out.$$ || { cat /tmp/pgolf_e2e_out.$$ >&2; fail "$2"; }; }

# a. A run in progress holds the folder.
train_until_step 2
seed_before=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["train"]["seed"])' "$OUT/run/config.json")
expect_exit 2 timeout 120 "$PGOLF_BIN" "${TRAIN[@]}" --run-id run --seed 99
says "run folder $OUT/run is in use by another pgolf process (pid $pid " "a second run with the same RUN_ID was not refused by name"
expect_exit 2 timeout 120 "$PGOLF_BIN" train --resume "$OUT/run" --iterations 3000
says "is in use by another pgolf process" "a --resume of a running run was not refused"
expect_exit 2 timeout 120 "$PGOLF_BIN" launch --nproc-per-node 2 -- "${TRAIN[@]}" --run-id run
says "is in use by another pgolf process" "a launch onto a running run was not refused"
seed_after=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["train"]["seed"])' "$OUT/run/config.json")
[[ $seed_before == "$seed_after" ]] || fail "config.json was rewritten by a refused run (seed $seed_before -> $seed_after)"

# b. SIGKILL: the kernel releases the lock; the folder is usable at once.
kill -KILL "$pid"
train_exit
expect_exit 0 timeout 120 "$PGOLF_BIN" "${TRAIN[@]}" --run-id run --iterations 2 --no-final --overwrite

# c. A finished run is refused, then replaced with --overwrite.
expect_exit 0 "$PGOLF_BIN" "${TRAIN[@]}" --run-id fin --iterations 3
sum=$(md5sum "$OUT/fin/submission.json" "$OUT/fin/train.log")
expect_exit 2 timeout 120 "$PGOLF_BIN" "${TRAIN[@]}" --run-id fin --iterations 3 --seed 99
says "$OUT/fin holds a finished run" "a finished run was not refused by folder"
says "--overwrite" "the refusal does not name --overwrite"
[[ $(md5sum "$OUT/fin/submission.json" "$OUT/fin/train.log") == "$sum" ]] || fail "the refused run changed the finished run's files"
expect_exit 0 "$PGOLF_BIN" "${TRAIN[@]}" --run-id fin --iterations 3 --seed 99 --overwrite
"$PY" - "$OUT/fin" <<'PYEOF'
import json, sys
d = sys.argv[1]
assert json.load(open(d + "/config.json"))["train"]["seed"] == 99, "config.json is not the new run's"
assert json.load(open(d + "/submission.json"))["seed"] == 99, "submission.json is not the new run's"
log = open(d + "/train.log").read()
assert log.count("final_int8_zlib_roundtrip_exact") == 1, "train.log still holds the old run"
PYEOF

# d. One launch run: two ranks, one folder, no conflict.
expect_exit 0 timeout 300 "$PGOLF_BIN" launch --nproc-per-node 2 -- "${TRAIN[@]}" --run-id shared --iterations 2 --no-final
[[ -e "$OUT/shared/checkpoints/latest.pt" && -e "$OUT/shared/checkpoints/latest.pt.rank1" ]] || fail "the launch run did not write both ranks' checkpoints"
pass
