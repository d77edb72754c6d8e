#!/usr/bin/env bash
# Crash safety (issue #10): `pgolf train` (tiny model, a checkpoint every step) is killed with
# SIGKILL again and again: after a random delay, or the moment a checkpoint or a final file
# (final_model.pt, the artifact, eval.json, ...) is being written (its temporary file exists).
# After every kill each file of the run directory must be absent, the previous complete version or
# the new one: checkpoint, state dict and artifact pass `pgolf export --inspect`, JSON files parse,
# every metrics.jsonl line parses, the checkpoint never goes back, and only the killed process's
# temporary file may remain. Every `--resume` must continue from exactly the checkpoint's step,
# and the last one must finish the run. A run dir without a checkpoint must refuse to resume.
#   PGOLF_SIGKILL_KILLS  kills in a row (default 8 for CI; the issue's acceptance run is 50)
#   PGOLF_SIGKILL_SEED   seed of the kill modes and delays (default: random, printed)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"
fault_setup
KILLS=${PGOLF_SIGKILL_KILLS:-8}
SEED=${PGOLF_SIGKILL_SEED:-$((RANDOM * 32768 + RANDOM))}
echo "sigkill_test: $KILLS kills, seed $SEED (PGOLF_SIGKILL_SEED=$SEED repeats the kill modes and delays)"
RANDOM=$SEED

ITERS=30
tiny_data "$OUT/data" 2 60000
tiny_config "$OUT/tiny.json" "$OUT/data" $ITERS

# killer.py PID MODE DIR DELAY_MS: SIGKILLs PID after DELAY_MS (mode delay) or as soon as PID's
# temporary file appears: of the checkpoint (ckpt), final_model.pt (pt), the artifact (ptz),
# eval.json / submission.json (json) or config.json / command.sh (meta). Prints what it did;
# does nothing when the process ends first.
cat >"$OUT/killer.py" <<'PYEOF'
import os, signal, sys, time
pid, mode, d, delay = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
def alive():
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
watch = None if mode == "delay" else os.path.join(d, "checkpoints") if mode == "ckpt" else d
prefixes = {"pt": ("final_model.pt.",), "ptz": ("final_model.int8.ptz.",),
            "json": ("eval.json.", "submission.json."),
            "meta": ("config.json.", "command.sh.")}.get(mode, ("",))
deadline = time.monotonic() + (delay / 1000.0 if watch is None else 60.0)
seen = None
while alive() and time.monotonic() < deadline and seen is None:
    if watch is not None and os.path.isdir(watch):
        seen = next((e.name for e in os.scandir(watch)  # its own temporary files only
                     if f".tmp.{pid}." in e.name and e.name.startswith(prefixes)), None)
    if seen is None:
        time.sleep(0.0005 if watch else 0.005)
if alive():
    os.kill(pid, signal.SIGKILL)
    print("killed " + (f"while writing {seen}" if seen else f"after {delay} ms" if watch is None
                       else "at the watch deadline"))
else:
    print("process ended first")
PYEOF

# check.py DIR KILLED_PID PREV_STEP INSPECT_OUT CLEANED: the run directory after a kill (see the
# header); CLEANED=1 when the killed process had opened the run for --resume, which deletes the
# temporary files of earlier killed writers. Prints the checkpoint step (-1 without a checkpoint).
cat >"$OUT/check.py" <<'PYEOF'
import json, os, re, sys
d, killed, prev, inspect = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
cleaned = sys.argv[5] == "1"
steps = []
if os.path.exists(os.path.join(d, "metrics.jsonl")):
    for n, line in enumerate(open(os.path.join(d, "metrics.jsonl")), 1):
        e = json.loads(line)  # a torn line would fail here
        if e.get("event") == "train":
            steps.append(e["step"])
for name in ("config.json", "eval.json", "submission.json"):
    p = os.path.join(d, name)
    if os.path.exists(p):
        json.load(open(p))
p = os.path.join(d, "command.sh")
if os.path.exists(p):
    assert open(p).read().endswith("\n"), "command.sh is torn"
for root, _, files in os.walk(d):
    for f in files:
        m = re.search(r"\.tmp\.(\d+)\.\d+$", f)
        if m and cleaned:
            assert m.group(1) == killed, f"stale temporary file {f} of pid {m.group(1)} (killed {killed})"
step = -1
if os.path.exists(os.path.join(d, "checkpoints", "latest.pt")):
    m = re.search(r"^checkpoint: step:(\d+) ", open(inspect).read(), re.M)
    assert m, "no checkpoint line in the inspect output"
    step = int(m.group(1))
    assert step >= prev, f"checkpoint went back from step {prev} to {step}"
    assert not steps or step <= max(steps), f"checkpoint step {step} ahead of the log {max(steps)}"
assert step >= 0 or prev < 0, "the checkpoint disappeared"
print(step)
PYEOF

inspect_run() {  # inspect_run DIR: every archive present must validate (exit 0)
  local files=()
  for f in checkpoints/latest.pt final_model.pt final_model.int8.ptz; do
    [[ -e "$1/$f" ]] && files+=("$1/$f")
  done
  : >"$OUT/inspect.out"
  ((${#files[@]})) || return 0
  "$PGOLF_BIN" export --inspect "${files[@]}" >"$OUT/inspect.out" 2>&1 || {
    cat "$OUT/inspect.out" >&2; fail "a file at its final name is not complete after the kill"; }
}

run_no=1
dir="$OUT/runs/r$run_no"
prev=-1
kills=0 completed=0 resumes=0
declare -A how
while ((kills < KILLS)); do
  if ((prev >= 0)); then
    cmd=(train --resume "$dir")
  else
    cmd=(train --config "$OUT/tiny.json" --out-dir "$OUT/runs" --run-id "r$run_no")
  fi
  "$PGOLF_BIN" "${cmd[@]}" >"$OUT/round.out" 2>&1 &
  pid=$!
  case $((RANDOM % 10)) in
    [0-2]) mode=delay ;;
    [3-5]) mode=ckpt ;;
    6) mode=pt ;;
    [7-8]) mode=ptz ;;
    *) mode=$( ((RANDOM % 2)) && echo json || echo meta) ;;
  esac
  what=$("$PY" "$OUT/killer.py" "$pid" "$mode" "$dir" $((300 + RANDOM % 3500)))
  set +e; wait "$pid" 2>/dev/null; rc=$?; set -e
  killed_pid=$pid
  pid=""
  cleaned=0
  if ((prev >= 0)) && grep -q "^resume: step:" "$OUT/round.out"; then
    grep -q "^resume: step:$prev " "$OUT/round.out" || {
      cat "$OUT/round.out" >&2; fail "resume did not start from the checkpoint's step $prev"; }
    resumes=$((resumes + 1))
    cleaned=1
  fi
  if ((rc == 0)); then  # finished before the kill: a complete run, then a new one
    [[ $what == "process ended first" ]] || fail "exit 0 although: $what"
    inspect_run "$dir"
    grep -q "^checkpoint: step:$ITERS " "$OUT/inspect.out" || fail "finished run without a final checkpoint"
    "$PY" -c 'import json,sys; assert json.load(open(sys.argv[1]))["results"]' "$dir/eval.json"
    [[ -z $(find "$dir" -name '*.tmp.*') ]] || fail "temporary files left in a completed run"
    completed=$((completed + 1))
    run_no=$((run_no + 1)); dir="$OUT/runs/r$run_no"; prev=-1
    continue
  fi
  ((rc == 137)) || { cat "$OUT/round.out" >&2; fail "pgolf ${cmd[*]} exited $rc (not killed)"; }
  kills=$((kills + 1))
  case $what in
    "killed while writing "*) key=${what#killed while writing }; key=${key%%.tmp.*} ;;
    "killed after "*) key=random_delay ;;
    *) key=watch_deadline ;;
  esac
  how[$key]=$((${how[$key]:-0} + 1))
  inspect_run "$dir"
  step=$("$PY" "$OUT/check.py" "$dir" "$killed_pid" "$prev" "$OUT/inspect.out" "$cleaned") || fail "kill $kills ($what): run directory check failed"
  echo "kill $kills: $mode, $what; checkpoint step $step"
  if ((step < 0)); then  # killed before the first checkpoint: resume must refuse clearly
    if [[ -d "$dir" ]]; then
      expect_exit 2 "$PGOLF_BIN" train --resume "$dir"
      grep -q "cannot resume" /tmp/pgolf_e2e_out.$$ || fail "no clear message when resuming without a checkpoint"
    fi
    run_no=$((run_no + 1)); dir="$OUT/runs/r$run_no"
  fi
  prev=$step
done

# The last run finishes from its checkpoint.
if ((prev >= 0)); then
  "$PGOLF_BIN" train --resume "$dir" >"$OUT/round.out" 2>&1 || { cat "$OUT/round.out" >&2; fail "final resume failed"; }
  grep -q "^resume: step:$prev " "$OUT/round.out" || fail "final resume did not start at step $prev"
  resumes=$((resumes + 1))
  inspect_run "$dir"
  grep -q "^checkpoint: step:$ITERS " "$OUT/inspect.out" || fail "final checkpoint is not at step $ITERS"
  "$PY" -c 'import json,sys; assert json.load(open(sys.argv[1]))["results"]' "$dir/eval.json"
  [[ -z $(find "$dir" -name '*.tmp.*') ]] || fail "temporary files left in the completed run"
  completed=$((completed + 1))
fi
summary=""
for k in "${!how[@]}"; do summary+=" $k=${how[$k]}"; done
echo "sigkill_test: $kills kills (${summary# }), $resumes resumes checked, $completed runs completed"
pass
