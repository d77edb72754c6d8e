#!/usr/bin/env bash
# The counted code bytes build and run (README "Code bytes"): scripts/code_bytes.sh packs exactly
# the counted (excluded paths left out, comments stripped) sources; this unpacks that archive alone
# into a fresh folder, configures it with -DPGOLF_SUBMISSION=ON against the same LibTorch, builds
# pgolf, checks it has only train/eval/export, and runs the smoke config through train (export,
# round trip, score), `pgolf export` and `pgolf eval`. The submission.json of that run must count
# the same code bytes as the script (the C++ rule = the script's rule, on the real tree).
# A full build of the counted sources: label code_bytes, out of the default run (README figures).
# Environment: PGOLF_CODE_ROOT (tree to count, default this checkout), PGOLF_CODE_BYTES_JOBS (2),
# PGOLF_CODE_BYTES_WORK (keep the build there), PGOLF_CODE_BYTES_CXX (compiler, e.g. a wrapper).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
smoke_data_or_fail
[[ -n "${PGOLF_TORCH_DIR:-}" ]] || fail "PGOLF_TORCH_DIR (the build's Torch_DIR) not set"
command -v zstd >/dev/null || { echo "SKIP: no zstd CLI"; exit 77; }
ROOT=${PGOLF_CODE_ROOT:-$PGOLF_SOURCE_DIR}
WORK=${PGOLF_CODE_BYTES_WORK:-}
if [[ -z "$WORK" ]]; then WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT; fi
CFG=$PGOLF_SOURCE_DIR/configs/smoke_cpu.json
t0=$SECONDS
bytes=$(PGOLF_CODE_TAR="$WORK/code.tar" bash "$PGOLF_SOURCE_DIR/scripts/code_bytes.sh" "$ROOT" "$CFG")
rm -rf "$WORK/tree" && mkdir -p "$WORK/tree"
tar -xf "$WORK/code.tar" -C "$WORK/tree"
echo "code bytes $bytes ($(tar -tf "$WORK/code.tar" | wc -l) files, $(wc -c < "$WORK/code.tar") tar bytes)"
cxx=()
[[ -n "${PGOLF_CODE_BYTES_CXX:-}" ]] && cxx=(-DCMAKE_CXX_COMPILER="$PGOLF_CODE_BYTES_CXX")
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S "$WORK/tree" -B "$WORK/tree/build" "${gen[@]}" -DPGOLF_SUBMISSION=ON \
  -DCMAKE_BUILD_TYPE="${PGOLF_BUILD_TYPE:-RelWithDebInfo}" -DTorch_DIR="$PGOLF_TORCH_DIR" \
  "${cxx[@]}" > "$WORK/configure.log" 2>&1 || { tail -40 "$WORK/configure.log"; fail "configure failed"; }
t1=$SECONDS
cmake --build "$WORK/tree/build" --target pgolf -j "${PGOLF_CODE_BYTES_JOBS:-2}" > "$WORK/build.log" 2>&1 ||
  { grep -E "error|FAILED" "$WORK/build.log" | head -40; fail "build from the counted bytes failed"; }
echo "configure $((t1 - t0)) s, build $((SECONDS - t1)) s"
BIN=$WORK/tree/build/pgolf

help=$("$BIN" --help)
for c in train eval export; do grep -qE "^  $c( |$)" <<<"$help" || fail "submission pgolf lacks '$c'"; done
for c in data config info bench launch report compare record; do
  grep -qE "^  $c( |$)" <<<"$help" && fail "submission pgolf has '$c'"
done

cd "$PGOLF_SOURCE_DIR"
RUNS=$WORK/runs
"$BIN" train --config "$CFG" --out-dir "$RUNS" --run-id sub --iterations 8 --val-loss-every 4 \
  --warmdown-iters 3 --swa-every 2 --train-log-every 4 --checkpoint-every 8 --warmup-steps 0 \
  > "$WORK/train.out" 2>&1 || { tail -30 "$WORK/train.out"; fail "smoke train failed"; }
for f in train.log final_model.int8.ptz eval.json submission.json checkpoints/latest.pt; do
  [[ -s "$RUNS/sub/$f" ]] || fail "run lacks $f"
done
"$BIN" export --config "$CFG" --checkpoint "$RUNS/sub/checkpoints/latest.pt" --out "$WORK/re.ptz" \
  > "$WORK/export.out" 2>&1 || { cat "$WORK/export.out"; fail "export failed"; }
"$BIN" eval "$WORK/re.ptz" --config "$CFG" --method standard --out "$WORK/eval.json" \
  > "$WORK/eval.out" 2>&1 || { cat "$WORK/eval.out"; fail "eval failed"; }
"$PY" - "$RUNS/sub" "$WORK/eval.json" "$bytes" <<'PYEOF'
import json, math, sys
run, ev, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = json.load(open(run + "/submission.json"))
assert s["bytes_code"] == want, ("pgolf's code bytes differ from scripts/code_bytes.sh", s["bytes_code"], want)
assert math.isfinite(s["val_bpb"]) and s["val_bpb"] > 0, s
r = json.load(open(ev))["results"][0]
assert math.isfinite(r["val_bpb"]) and abs(r["val_bpb"] - s["val_bpb"]) < 0.05, (r, s["val_bpb"])
print("smoke val_bpb", s["val_bpb"], "re-export eval", r["val_bpb"], "bytes_code", s["bytes_code"])
PYEOF
echo "total $((SECONDS - t0)) s"
pass
