#!/usr/bin/env bash
# Every seed submission's config, scaled down by its configs/smoke/ companion, end to end on CPU:
# train -> export -> reload the artifact -> final score, asserting on metrics.jsonl, eval.json and
# submission.json (final bpb finite and close to pre-quant, under budget, the record's switches in the
# resolved config). Then `pgolf eval` of one artifact with all three methods (standard, sliding, TTT),
# and the records/ folders: config.json resolves to its configs/ file and command.sh parses.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
smoke_data_or_fail
cd "$PGOLF_SOURCE_DIR"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
SEEDS=(baseline_9x512 pr180_10l_int5mlp_bigram_swa pr289_11l_smear_bigram_int6_ttt
       pr286_10l_int5mlp_lateqat pr354_13l_mla)
# The first 16,385 tokens of the smoke val shard as a shard of their own (VAL_FILES may be absolute):
# the same runs on a tenth of the validation tokens, so that all five fit in well under a minute each.
mkdir -p "$OUT/val"
head_val_shard data/smoke/fineweb_val_000000.bin "$OUT/val/fineweb_val_000000.bin" 16385
VAL=(--val-files "$OUT/val/fineweb_val_*.bin")

for n in "${SEEDS[@]}"; do
  # The full-size config must resolve on its own (the 8xH100 command uses it unchanged).
  "$PGOLF_BIN" config --dump --config "configs/$n.json" >"$OUT/$n.dump" 2>&1 \
    || { cat "$OUT/$n.dump"; fail "configs/$n.json does not resolve"; }
  "$PGOLF_BIN" train --config "configs/$n.json" --config "configs/smoke/$n.json" \
    "${VAL[@]}" --out-dir "$OUT" --run-id "$n" >"$OUT/$n.out" 2>&1 || { cat "$OUT/$n.out"; fail "$n: train failed"; }
  for f in train.log metrics.jsonl config.json final_model.int8.ptz eval.json submission.json; do
    [[ -s "$OUT/$n/$f" ]] || fail "$n: run directory lacks $f"
  done
done

"$PY" - "$OUT" "${SEEDS[@]}" <<'PYEOF'
import json, math, sys
out, names = sys.argv[1], sys.argv[2:]
# Switches each scaled-down run must still carry (resolved config.json of the run).
expect = {
    "baseline_9x512": {"num_layers": 3, "mlp_mult": 2.0, "bigram_vocab_size": 0, "smear_gate": False,
                       "ortho_init": False, "quant_scheme": "int8", "compressor": "zlib",
                       "eval_stride": 0, "swa_enabled": False, "muon_weight_decay": 0.0},
    "pr180_10l_int5mlp_bigram_swa": {"num_layers": 4, "smear_gate": True, "unet_skips": True,
                                     "quant_scheme": "mixed", "prune_pct": 0.03, "swa_start_frac": 0.4},
    "pr289_11l_smear_bigram_int6_ttt": {"num_layers": 5, "ortho_init": False, "quant_scheme": "int6",
                                        "int_cats": "mlp,attn", "muon_backend_steps": 4,
                                        "intn_scale_floor": "inv_clip",
                                        "ttt_enabled": True, "swa_start_frac": 0.5},
    "pr286_10l_int5mlp_lateqat": {"num_layers": 4, "late_qat_frac": 0.85, "sliding_mode": "exact",
                                  "weight_decay": 0.01, "int_cats": "mlp,attn"},
    "pr354_13l_mla": {"num_layers": 5, "attention": "mla", "kv_rank": 16, "smear_gate": False,
                      "mla_latent_norm": False, "gated_mlp": True, "bigram_hash": "mult",
                      "ortho_init_gain": "inv_sqrt_dim", "intn_scale_stat": "quantile",
                      "passthrough_dtype": "fp32",
                      "swa_start_frac": 0.6, "sliding_mode": "exact"},
}
def flat(cfg):
    f = {}
    for sec, vals in cfg.items():
        if isinstance(vals, dict):
            f.update(vals)
    return f
for n in names:
    d = f"{out}/{n}"
    cfg = flat(json.load(open(d + "/config.json")))
    for k, v in expect[n].items():
        assert cfg.get(k) == v, (n, k, cfg.get(k), v)
    ev = [json.loads(l) for l in open(d + "/metrics.jsonl")]
    val = [e for e in ev if e["event"] == "val"]
    assert val and val[0]["step"] == 0, (n, [e["step"] for e in val])
    assert val[-1]["val_bpb"] < val[0]["val_bpb"], (n, "loss did not fall", val[0], val[-1])
    final = [e for e in ev if e["event"] == "final"]
    assert len(final) == 1, (n, final)
    e = json.load(open(d + "/eval.json"))
    bpb = e["results"][0]["val_bpb"]
    assert math.isfinite(bpb) and 0 < bpb < 8, (n, bpb)
    assert abs(bpb - e["pre_quant_val_bpb"]) < 0.25, (n, "round trip far from pre-quant", bpb,
                                                     e["pre_quant_val_bpb"])
    s = json.load(open(d + "/submission.json"))
    assert abs(s["val_bpb"] - bpb) < 1e-12, (n, s["val_bpb"], bpb)
    assert s["bytes_total"] == s["bytes_code"] + s["bytes_model"] < 16_000_000, (n, s)
    print(f"{n}: steps {e['steps']} pre-quant {e['pre_quant_val_bpb']:.4f} final {bpb:.4f} "
          f"bytes {s['bytes_total']}")
PYEOF

# Bit-identity (issue 22): default-valued configs keep the seeds' behaviour while frontier knobs
# are added (all off by default). Every train loss and grad norm, every val bpb, the final bpb and
# the model bytes equal tests/data/seed_bitwise.json exactly (same box class, one thread, these
# smoke companions). PGOLF_REGEN_SEED_BITWISE=1 rewrites it after an intended change (say so).
# LibTorch's CPU kernels differ by instruction set (AVX2 / AVX-512 / AMX), so the file records the
# CPU's relevant flags; on another CPU class this check cannot run and reports Skipped. It is its own ctest entry
# (seed_bitwise_test.sh runs this script with PGOLF_SEED_CHECK=bitwise), so a Skipped bit-identity
# never hides the checks above and below.
if [[ ${PGOLF_SEED_CHECK:-} == bitwise ]]; then
rc=0
"$PY" - "$OUT" tests/data/seed_bitwise.json "${SEEDS[@]}" <<'PYEOF' || rc=$?
import json, os, subprocess, sys
out, golden, names = sys.argv[1], sys.argv[2], sys.argv[3:]
wanted_flags = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")
cpu_flags = next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), [])
cpu = sorted(f for f in wanted_flags if f in cpu_flags)
got = {}
for n in names:
    ev = [json.loads(l) for l in open(f"{out}/{n}/metrics.jsonl")]
    got[n] = {"train": [[e["step"], e["train_loss"], e["grad_norm"]] for e in ev if e["event"] == "train"],
              "val": [[e["step"], e["val_bpb"]] for e in ev if e["event"] == "val"],
              "final_bpb": json.load(open(f"{out}/{n}/eval.json"))["results"][0]["val_bpb"],
              "bytes_model": json.load(open(f"{out}/{n}/submission.json"))["bytes_model"]}
if os.environ.get("PGOLF_REGEN_SEED_BITWISE") == "1":
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    json.dump({"comment": f"seed_configs_test.sh runs, generated at {head} (+ working tree)", "cpu_flags": cpu,
               "runs": got}, open(golden, "w"), indent=1)
    print("rewrote", golden)
    sys.exit(0)
ref = json.load(open(golden))
if ref.get("cpu_flags") != cpu:
    print(f"bit-identity check not run: {golden} was made on a CPU with {ref.get('cpu_flags')}, this one has {cpu}")
    sys.exit(77)
want = ref["runs"]
for n in names:
    for key in ("train", "val", "final_bpb", "bytes_model"):
        assert got[n][key] == want[n][key], (n, key, "differs from", golden, got[n][key], want[n][key])
print("bit-identical to", golden)
PYEOF
((rc == 0)) && pass
exit "$rc"  # 77: another CPU class (ctest: Skipped)
fi

# pgolf eval of PR #289's artifact: standard, sliding (equal to the training run's final score) and
# score-first TTT-LoRA, all finite.
n=pr289_11l_smear_bigram_int6_ttt
"$PGOLF_BIN" eval "$OUT/$n/final_model.int8.ptz" --config "configs/$n.json" --config "configs/smoke/$n.json" \
  "${VAL[@]}" --method standard --method sliding --method ttt --out "$OUT/eval_all.json" >"$OUT/eval.out" 2>&1 \
  || { cat "$OUT/eval.out"; fail "pgolf eval failed"; }
"$PY" - "$OUT/$n/eval.json" "$OUT/eval_all.json" <<'PYEOF'
import json, math, sys
train = json.load(open(sys.argv[1]))["results"][0]
res = json.load(open(sys.argv[2]))["results"]
assert len(res) == 3, res
assert all(math.isfinite(r["val_bpb"]) and 0 < r["val_bpb"] < 8 for r in res), res
assert abs(res[1]["val_bpb"] - train["val_bpb"]) < 1e-9, (res[1], train)
PYEOF

# records/: each record's config.json is its configs/ file, and command.sh is a valid script.
for n in "${SEEDS[@]}"; do
  rec=$(grep -l "configs/$n.json" records/*/*/README.md | head -1) || fail "no record README mentions configs/$n.json"
  dir=$(dirname "$rec")
  cmp -s "$dir/config.json" "configs/$n.json" || fail "$dir/config.json is not configs/$n.json"
  [[ -x "$dir/command.sh" ]] && bash -n "$dir/command.sh" || fail "$dir/command.sh missing or invalid"
  grep -q -- "--config \"\$REC/config.json\"" "$dir/command.sh" || fail "$dir/command.sh does not use its config"
done
pass
