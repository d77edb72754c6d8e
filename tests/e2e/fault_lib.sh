# Helpers of the crash-safety and failure-injection tests (sigkill_test.sh, fault_*_test.sh):
# a tiny dataset cut from the smoke shards and a tiny model config, so each run takes seconds.
# Source after lib.sh, then call fault_setup.

# fault_setup: the common preamble. Needs the smoke data, works from $PGOLF_SOURCE_DIR, makes a
# scratch folder $OUT removed at exit, and SIGKILLs the background pgolf whose pid the test keeps
# in $pid (empty when none is running) if the test ends early.
fault_setup() {
  smoke_data_or_fail
  cd "$PGOLF_SOURCE_DIR"
  OUT=$(mktemp -d)
  pid=""
  trap '[[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null; rm -rf "$OUT"' EXIT
}

# tiny_data DIR NSHARDS TOKENS: NSHARDS train shards of TOKENS tokens (real copies, so tests may
# delete or truncate them) and an 8K-token validation shard, cut from data/smoke.
tiny_data() {
  "$PY" - "$PGOLF_SOURCE_DIR/data/smoke" "$1" "$2" "$3" <<'PYEOF'
import os, struct, sys
src, out, nshards, tokens = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
os.makedirs(out, exist_ok=True)
def write(path, body):
    header = struct.pack("<3i", 20240520, 1, len(body) // 2) + bytes(1024 - 12)
    open(path, "wb").write(header + body)
train = open(os.path.join(src, "fineweb_train_000000.bin"), "rb").read()[1024:]
assert len(train) >= 2 * nshards * tokens, "smoke shard too small for the tiny dataset"
for i in range(nshards):
    write(os.path.join(out, f"fineweb_train_{i:06d}.bin"), train[2 * i * tokens:2 * (i + 1) * tokens])
val = open(os.path.join(src, "fineweb_val_000000.bin"), "rb").read()[1024:1024 + 2 * 8193]
write(os.path.join(out, "fineweb_val_000000.bin"), val)
PYEOF
}

# tiny_config FILE DATA_DIR ITERATIONS: a 2-layer, 64-wide model, 2048 tokens per step, a
# checkpoint every step, one thread.
tiny_config() {
  cat >"$1" <<EOF
{
  "data": {"data_path": "$2", "tokenizer_path": "$PGOLF_SOURCE_DIR/data/smoke/tokenizer/smoke_sp1024.model"},
  "model": {"num_layers": 2, "model_dim": 64, "num_heads": 2, "num_kv_heads": 1,
            "bigram_vocab_size": 256, "bigram_dim": 16},
  "train": {"iterations": $3, "warmdown_iters": 5, "warmup_steps": 0,
            "train_batch_tokens": 2048, "train_seq_len": 64, "max_wallclock_seconds": 0,
            "val_loss_every": 0, "train_log_every": 10, "val_batch_size": 4096, "swa_every": 5,
            "checkpoint_every": 1, "threads": 1},
  "eval": {"eval_stride": 0},
  "quant": {"passthrough_max_numel": 4096, "prune_min_numel": 16384, "code_bytes": 1000}
}
EOF
}

# wait_for_step METRICS N PID: waits (at most 120 s) until METRICS logs train step N; fails if the
# process PID ends first.
wait_for_step() {
  local deadline=$((SECONDS + 120))
  while ! grep -q "\"event\":\"train\".*\"step\":$2," "$1" 2>/dev/null; do
    kill -0 "$3" 2>/dev/null || fail "pgolf ended before step $2"
    ((SECONDS < deadline)) || fail "no step $2 within 120 s"
    sleep 0.05
  done
}

# train_until_step N: starts `pgolf train` on $OUT/tiny.json (run "run", output in $OUT/train.out)
# in the background, sets $pid (the trap kills it) and returns once it has logged step N.
train_until_step() {
  "$PGOLF_BIN" train --config "$OUT/tiny.json" --out-dir "$OUT" --run-id run >"$OUT/train.out" 2>&1 &
  pid=$!
  wait_for_step "$OUT/run/metrics.jsonl" "$1" "$pid"
}

# train_exit: waits for train_until_step's run to end; its exit code in $rc.
train_exit() {
  set +e; wait "$pid"; rc=$?; set -e
  pid=""
}

# inspect_ok FILE...: `pgolf export --inspect` accepts every file; its output in $INSPECT_OUT.
inspect_ok() {
  INSPECT_OUT=$("$PGOLF_BIN" export --inspect "$@" 2>&1) || { echo "$INSPECT_OUT" >&2; fail "inspect rejected $*"; }
}
