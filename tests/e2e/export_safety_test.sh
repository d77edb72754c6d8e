#!/usr/bin/env bash
# `pgolf export` never destroys its input nor leaves temporary files (issue #17, items 5 and 7):
#  a. --out naming the --checkpoint (same path, a symlink, a hard link, another spelling) is
#     refused with exit 2 and the weights stay byte for byte;
#  b. the temporary file of an earlier export of the same output, killed mid-write, is deleted
#     by the next export (others' files stay);
#  c. SIGINT while the artifact is being written deletes the temporary file and exits 130.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"
fault_setup
tiny_data "$OUT/data" 1 40000
tiny_config "$OUT/tiny.json" "$OUT/data" 2
expect_exit 0 "$PGOLF_BIN" train --config "$OUT/tiny.json" --out-dir "$OUT" --run-id run --no-final
CK="$OUT/ck.pt"
cp "$OUT/run/checkpoints/latest.pt" "$CK"
sum=$(md5sum <"$CK")
EXPORT=("$PGOLF_BIN" export --config "$OUT/tiny.json" --checkpoint "$CK")

# a. The checkpoint under four names.
mkdir "$OUT/sub"
ln -s "$CK" "$OUT/sym.pt"
ln "$CK" "$OUT/hard.pt"
for out in "$CK" "$OUT/sym.pt" "$OUT/hard.pt" "$OUT/sub/../ck.pt"; do
  expect_exit 2 "${EXPORT[@]}" --out "$out"
  grep -q "^error: pgolf export: --out $out is the --checkpoint file" /tmp/pgolf_e2e_out.$$ || {
    cat /tmp/pgolf_e2e_out.$$ >&2; fail "--out $out: no clear refusal"; }
  [[ $(md5sum <"$CK") == "$sum" ]] || fail "--out $out changed the checkpoint"
done
expect_exit 2 "${EXPORT[@]}" --out "$OUT/a.ptz" --submission-json "$OUT/hard.pt"
[[ $(md5sum <"$CK") == "$sum" ]] || fail "--submission-json changed the checkpoint"

# b. A stale temporary file of this output goes; one of another output stays.
echo x >"$OUT/a.ptz.tmp.999999999.1"
echo x >"$OUT/other.ptz.tmp.999999999.2"
expect_exit 0 "${EXPORT[@]}" --out "$OUT/a.ptz"
[[ ! -e "$OUT/a.ptz.tmp.999999999.1" ]] || fail "the stale temporary file of a.ptz was left"
[[ -e "$OUT/other.ptz.tmp.999999999.2" ]] || fail "another output's temporary file was deleted"
inspect_ok "$OUT/a.ptz"

# c. SIGINT mid-write. The export is stopped (SIGSTOP) as soon as its temporary file appears, so the
# SIGINT lands while the file exists; a run whose write ends before the stop is retried.
cat >"$OUT/interrupt.py" <<'PYEOF'
import glob, os, signal, subprocess, sys, time
cmd, out = sys.argv[2:], sys.argv[1]
for attempt in range(40):
    for f in glob.glob(out + "*"):
        os.remove(f)
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pattern = f"{out}.tmp.{p.pid}.*"
    caught = False
    while p.poll() is None:
        if glob.glob(pattern):
            os.kill(p.pid, signal.SIGSTOP)
            if glob.glob(pattern):  # still being written: interrupt it there
                os.kill(p.pid, signal.SIGINT)
                caught = True
            os.kill(p.pid, signal.SIGCONT)
            break
        time.sleep(0.0002)
    rc = p.wait()
    if caught:
        left = glob.glob(pattern)
        print(f"attempt {attempt + 1}: exit {rc}, left {left}")
        sys.exit(0 if rc == -signal.SIGINT and not left else 1)
print("the write never overlapped the watch (40 attempts)")
sys.exit(77)
PYEOF
set +e
"$PY" "$OUT/interrupt.py" "$OUT/b.ptz" "${EXPORT[@]}" --out "$OUT/b.ptz"
rc=$?
set -e
((rc != 77)) || { echo "SKIP: could not interrupt a write"; exit 77; }
((rc == 0)) || fail "SIGINT during the write: the export did not die by SIGINT, or left its temporary file"
pass
