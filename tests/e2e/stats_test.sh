#!/usr/bin/env bash
# scripts/stats.py: Student-t CDF against closed forms and table quantiles, mean/std/t/p of three
# runs against hand-computed numbers (PR #180's three seeds), every input kind (run directory,
# submission.json, eval.json, train log), the JSON output and bad-input exit codes.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
STATS="$PGOLF_SOURCE_DIR/scripts/stats.py"

# PR #180's seeds 42 / 1337 / 2024 (final_int8_zlib_roundtrip_exact lines of the record's logs),
# as a run directory, a bare submission.json, an eval.json and a reference-format log.
mkdir -p "$OUT/run42"
echo '{"val_loss": 1.92941613, "val_bpb": 1.14271194, "bytes_total": 1}' > "$OUT/run42/submission.json"
echo '{"val_loss": 1.92987577, "val_bpb": 1.14298416}' > "$OUT/s1337.json"
echo '{"results": [{"method": "sliding", "val_loss": 1.92923337, "val_bpb": 1.14260369}]}' > "$OUT/eval.json"
printf '%s\n' 'step:6713/20000 val_loss:1.9474 val_bpb:1.1534 train_time:600047ms step_avg:89.38ms' \
  'final_int8_zlib_roundtrip val_loss:1.9292 val_bpb:1.1426 eval_time:168400ms' \
  'final_int8_zlib_roundtrip_exact val_loss:1.92923337 val_bpb:1.14260369' > "$OUT/seed2024.log"

"$PY" - "$STATS" "$OUT" <<'PYEOF'
import importlib.util, json, math, subprocess, sys
stats_path, out = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location("stats", stats_path)
st = importlib.util.module_from_spec(spec); spec.loader.exec_module(st)

def close(a, b, tol, what):
    assert abs(a - b) <= tol, f"{what}: {a!r} vs {b!r} (tol {tol})"

# Closed forms: df=1 is Cauchy, df=2 has F(t) = 1/2 + t / (2 sqrt(2 + t^2)).
for t in (-30.0, -6.965, -2.0, -0.3, 0.0, 0.7, 4.0):
    close(st.t_cdf(t, 1), 0.5 + math.atan(t) / math.pi, 1e-12, f"df=1 t={t}")
    close(st.t_cdf(t, 2), 0.5 + t / (2 * math.sqrt(2 + t * t)), 1e-12, f"df=2 t={t}")
# Table quantiles (one-sided 1% and 2.5% points): P(T <= -q) = alpha.
for df, q, alpha in ((4, 3.746947, 0.01), (10, 2.763769, 0.01), (29, 2.045230, 0.025),
                     (60, 2.390119, 0.01)):
    close(st.t_cdf(-q, df), alpha, 2e-7, f"df={df} q={q}")
    close(st.t_cdf(q, df), 1 - alpha, 2e-7, f"df={df} q={q} upper")
close(st.betainc(2.0, 3.0, 0.4), 0.5248, 1e-12, "I_0.4(2,3)")  # 1 - sum_{j<2} C(4,j) .4^j .6^(4-j)

# Three runs: mean, sample std and the record test, computed independently here.
loss = [1.92941613, 1.92987577, 1.92923337]
bpb = [1.14271194, 1.14298416, 1.14260369]
m = sum(loss) / 3
sd = math.sqrt(sum((x - m) ** 2 for x in loss) / 2)
base = 1.93492097  # smear9 (the SOTA before PR #180), seed 1337, in nats
t = (m - (base - 0.005)) / (sd / math.sqrt(3))
p = 0.5 + t / (2 * math.sqrt(2 + t * t))
runs = [out + "/run42", out + "/s1337.json", out + "/eval.json", out + "/seed2024.log"]
res = json.loads(subprocess.check_output(
    [sys.executable, stats_path, "--json", "--baseline-nats", str(base)] + runs[:3]))
close(res["val_loss"]["mean"], m, 1e-12, "mean")
close(res["val_loss"]["std"], sd, 1e-12, "std")
close(res["val_bpb"]["std_population"], 0.00016006, 5e-8, "README's std (ddof 0)")
close(res["test"]["t"], t, 1e-9, "t")
close(res["test"]["p_value"], p, 1e-9, "p")
assert res["test"]["df"] == 2 and res["test"]["significant"] is False, res["test"]
close(p, 0.0818, 5e-4, "p by hand")

# A baseline in bpb is converted with the runs' own nats/bpb ratio; a log file is read too.
res = json.loads(subprocess.check_output(
    [sys.executable, stats_path, "--json", "--baseline-bpb", "1.2244", "--margin-nats", "0.005"]
    + runs[:2] + runs[3:]))
ratio = sum(l / b for l, b in zip(loss, bpb)) / 3
close(res["nats_per_bpb"], ratio, 1e-12, "ratio")
close(res["test"]["baseline_nats"], 1.2244 * ratio, 1e-12, "baseline nats")
assert res["test"]["significant"] is True and res["test"]["p_value"] < 1e-4, res["test"]

# A clearly better set passes, a set at the threshold does not.
assert st.record_test([1.0, 1.001, 0.999], 1.1, 0.005)["p_value"] < 1e-3
close(st.record_test([1.095, 1.094, 1.096], 1.1, 0.005)["p_value"], 0.5, 1e-12, "at threshold")
print("stats checks passed")
PYEOF

# Human output, one run (no test), and bad inputs: exit code 2 with the path in the message.
"$PY" "$STATS" "$OUT/run42" --baseline-bpb 1.2244 | grep -q "needs at least 2 runs" || fail "n=1 note missing"
mkdir -p "$OUT/empty"
expect_exit 2 "$PY" "$STATS" "$OUT/empty"
echo '{"val_loss": "NaN"}' > "$OUT/bad.json"
expect_exit 2 "$PY" "$STATS" "$OUT/bad.json"
echo 'no final line here' > "$OUT/bad.log"
expect_exit 2 "$PY" "$STATS" "$OUT/bad.log"
pass
