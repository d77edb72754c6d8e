#!/usr/bin/env bash
# A --resume with other values is recorded in the run folder (issue #17, item 6): resumes.jsonl
# holds its command and changes, command.sh a dated resume line under the first run's command,
# config.json the values the resumed run used (and the list of resumes), so that a later plain
# --resume keeps them; the code bytes stay those of the first run's config file.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"
fault_setup
tiny_data "$OUT/data" 1 40000
tiny_config "$OUT/tiny.json" "$OUT/data" 3
sed -i 's/, "code_bytes": 1000//' "$OUT/tiny.json"  # measure the code bytes
grep -q code_bytes "$OUT/tiny.json" && fail "could not drop code_bytes from the tiny config"
code_size() { sed -n 's/^Code size: \([0-9]*\) bytes$/\1/p' "$1" | tail -n 1; }

expect_exit 0 "$PGOLF_BIN" train --config "$OUT/tiny.json" --out-dir "$OUT" --run-id run
first=$(code_size "$OUT/run/train.log")
[[ -n $first ]] || fail "no code size in the first run's log"
cp "$OUT/run/command.sh" "$OUT/command.first"
expect_exit 0 timeout 300 env TRAIN_SEQ_LEN=128 "$PGOLF_BIN" train --resume "$OUT/run" --iterations 5
grep -q "^resume: step:3 " /tmp/pgolf_e2e_out.$$ || fail "the resume did not start at step 3"
resumed=$(code_size "$OUT/run/train.log")
[[ $resumed == "$first" ]] || fail "a resume changed the code bytes from $first to $resumed"

"$PY" - "$OUT" <<'PYEOF'
import json, sys
out = sys.argv[1]
d = out + "/run"
lines = [json.loads(l) for l in open(d + "/resumes.jsonl")]
assert len(lines) == 1, lines
r = lines[0]
assert r["changes"] == {"iterations": {"from": 3, "to": 5, "source": "flag --iterations"},
                        "train_seq_len": {"from": 64, "to": 128, "source": "env TRAIN_SEQ_LEN"}}, r["changes"]
assert "--iterations" in r["argv"] and r["env"]["TRAIN_SEQ_LEN"] == "128", r
assert r["time"].endswith("Z"), r["time"]
c = json.load(open(d + "/config.json"))
assert c["train"]["iterations"] == 5 and c["train"]["train_seq_len"] == 128, c["train"]
assert c["_sources"]["iterations"] == "flag --iterations", c["_sources"]["iterations"]
assert c["_sources"]["num_layers"] == "file " + out + "/tiny.json", c["_sources"]["num_layers"]
assert [x["changes"] for x in c["_resumes"]] == [r["changes"]], c["_resumes"]
first = open(out + "/command.first").read()
cmd = open(d + "/command.sh").read()
assert cmd.startswith(first), "command.sh lost the first run's command"
last = cmd[len(first):].splitlines()
assert len(last) == 1 and last[0].startswith("# resumed " + r["time"] + ": "), last
assert " TRAIN_SEQ_LEN=128 " in last[0], last
assert last[0].endswith("--resume " + d + " --iterations 5"), last
PYEOF

# A plain resume continues with the recorded values (a finished 5-step run: nothing to train).
expect_exit 0 timeout 120 "$PGOLF_BIN" train --resume "$OUT/run"
grep -q "^resume: step:5 " /tmp/pgolf_e2e_out.$$ || fail "the second resume did not start at step 5"
grep -q "step:[0-9]*/3 " /tmp/pgolf_e2e_out.$$ && fail "the second resume went back to the first run's 3 iterations"
"$PY" - "$OUT/run" <<'PYEOF'
import json, sys
d = sys.argv[1]
lines = [json.loads(l) for l in open(d + "/resumes.jsonl")]
assert len(lines) == 2 and lines[1]["changes"] == {}, lines
c = json.load(open(d + "/config.json"))
assert c["train"]["iterations"] == 5 and c["train"]["train_seq_len"] == 128 and len(c["_resumes"]) == 2, c
PYEOF
pass
