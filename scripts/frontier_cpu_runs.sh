#!/usr/bin/env bash
# The five frontier presets shrunk to CPU (configs/frontier_<score>_cpu.json layered after
# configs/frontier_<score>.json), each trained once for its wallclock cap on data/dev
# (scripts/prepare_dev_data.sh), then scored three ways: the exported fp weights (final_model.pt,
# EMA applied) with the record's final method (pre-quant), the artifact as `pgolf train` scores it
# (post-quant), and the artifact with the record's TTT where it has one (post-TTT). Prints one
# JSON summary per preset (curve, bpb, bytes, phase times) and writes them to $OUT/summary.json.
#   scripts/frontier_cpu_runs.sh [OUT] [SCORE ...]      e.g. scripts/frontier_cpu_runs.sh /tmp/fr 1_1271
# Environment: PGOLF_BIN (default build/pgolf), CAP (seconds; default: the overlay's cap),
# DATA (default data/dev), TOKENIZER (default tests/data/dev_sp1024.model). Runs niced, one thread.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/frontier_cpu}
shift || true
SCORES=("$@")
[[ ${#SCORES[@]} -gt 0 ]] || SCORES=(1_1271 1_1228 1_1122 1_0810 1_0611)
BIN=${PGOLF_BIN:-build/pgolf}
DATA=${DATA:-data/dev}
TOK=${TOKENIZER:-tests/data/dev_sp1024.model}
export OMP_NUM_THREADS=1
mkdir -p "$OUT"
for s in "${SCORES[@]}"; do
  cfg=(-c "configs/frontier_$s.json" -c "configs/frontier_${s}_cpu.json" --data-path "$DATA"
       --tokenizer-path "$TOK")
  [[ -n "${CAP:-}" ]] && cfg+=(--max-wallclock-seconds "$CAP")
  run=$OUT/$s
  t0=$(date +%s.%N)
  nice -n 19 "$BIN" train "${cfg[@]}" --out-dir "$OUT" --run-id "$s" --overwrite >"$OUT/$s.train.out" 2>&1
  t1=$(date +%s.%N)
  method=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['results'][0]['method'])" "$run/eval.json")
  nice -n 19 "$BIN" eval "${cfg[@]}" --method "$method" --out "$run/prequant.eval.json" \
    "$run/final_model.pt" >"$OUT/$s.prequant.out" 2>&1
  if python3 -c "import json,sys;sys.exit(0 if json.load(open(sys.argv[1]))['eval']['ttt_enabled'] else 1)" "$run/config.json"; then
    nice -n 19 "$BIN" eval "${cfg[@]}" --method ttt --out "$run/ttt.eval.json" \
      "$run/final_model.int8.ptz" >"$OUT/$s.ttt.out" 2>&1
  fi
  t2=$(date +%s.%N)
  python3 - "$run" "$s" "$t0" "$t1" "$t2" <<'PYEOF'
import json, os, sys
run, score, t0, t1, t2 = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:])
ev = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl"))]
val = [(e["step"], round(e["val_bpb"], 4)) for e in ev if e["event"] == "val"]
train = [(e["step"], round(e["train_loss"], 4)) for e in ev if e["event"] == "train"]
every = max(1, len(train) // 8)
final = json.load(open(os.path.join(run, "eval.json")))
sub = json.load(open(os.path.join(run, "submission.json")))
pre = json.load(open(os.path.join(run, "prequant.eval.json")))["results"][0]
cal = [e for e in ev if e["event"] == "gptq_calibration"]
fin = [e for e in ev if e["event"] == "final"][-1]
s = {"preset": score, "steps": final["steps"], "train_s": round(final["train_time_ms"] / 1000, 1),
     "train_curve": train[::every] + ([train[-1]] if train[-1] not in train[::every] else []),
     "val_curve": val, "pre_ema_val_bpb": round(final["pre_quant_val_bpb"], 4),
     "pre_quant_bpb": round(pre["val_bpb"], 4), "post_quant_bpb": round(final["results"][0]["val_bpb"], 4),
     "final_method": final["results"][0]["method"], "model_bytes": sub["bytes_model"],
     "gptq_collect_s": round(cal[0]["collect_seconds"], 2) if cal else None,
     "final_eval_s": round(fin["eval_ms"] / 1000, 1), "train_cmd_wall_s": round(t1 - t0, 1),
     "evals_wall_s": round(t2 - t1, 1)}
tp = os.path.join(run, "ttt.eval.json")
if os.path.exists(tp):
    r = json.load(open(tp))["results"][0]
    s["post_ttt_bpb"], s["ttt_s"] = round(r["val_bpb"], 4), round(r["seconds"], 1)
json.dump(s, open(os.path.join(run, "summary.json"), "w"), indent=1)
print(json.dumps(s))
PYEOF
done
python3 - "$OUT" <<'PYEOF'
import glob, json, os, sys
out = sys.argv[1]
s = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(out, "*", "summary.json")))]
json.dump(s, open(os.path.join(out, "summary.json"), "w"), indent=1)
PYEOF
