#!/usr/bin/env bash
# scripts/download_fineweb.sh against a local file:// mirror laid out like the Hugging Face dataset
# (resolve/main/... files and the tree API's JSON with sha256 oids): the reference layout comes out,
# --train-shards limits the train shards, an interrupted download resumes from its .part file,
# complete files are skipped, and a checksum mismatch or a corrupt shard fails without leaving a file.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
SCRIPT="$PGOLF_SOURCE_DIR/scripts/download_fineweb.sh"
REPO=test/pgolf-fake
HF="$OUT/hf"
RES="$HF/datasets/$REPO/resolve/main/datasets"
API="$HF/api/datasets/$REPO/tree/main/datasets"

"$PY" - "$RES" "$API" <<'PYEOF'
import hashlib, json, os, struct, sys
res, api = sys.argv[1], sys.argv[2]
ds = "datasets/fineweb10B_sp1024"
os.makedirs(f"{res}/{ds}"); os.makedirs(f"{res}/tokenizers"); os.makedirs(f"{api}/datasets")
def shard(path, n, seed):
    toks = [(seed * 7919 + i * 31) % 1024 for i in range(n)]
    with open(path, "wb") as f:
        f.write(struct.pack("<256i", 20240520, 1, n, *([0] * 253)))
        f.write(struct.pack(f"<{n}H", *toks))
files = {f"{ds}/fineweb_val_000000.bin": 3000}
files.update({f"{ds}/fineweb_train_{i:06d}.bin": 5000 + i for i in range(3)})
for rel, n in files.items():
    shard(f"{res}/{rel}", n, n)
with open(f"{res}/tokenizers/fineweb_1024_bpe.model", "wb") as f:
    f.write(os.urandom(4096))
with open(f"{res}/tokenizers/fineweb_1024_bpe.vocab", "w") as f:
    f.write("<pad>\t0\n")
json.dump({"datasets": [{"name": "fineweb10B_sp1024", "tokenizer_name": "sp_bpe_1024",
                         "stats": {"files_train": 3, "files_val": 1}}],
           "tokenizers": [{"name": "sp_bpe_1024", "model_path": "tokenizers/fineweb_1024_bpe.model",
                           "vocab_path": "tokenizers/fineweb_1024_bpe.vocab"}]},
          open(f"{res}/manifest.json", "w"))
def listing(folder):
    out = []
    for root, _, names in os.walk(f"{res}/{folder}"):
        for name in sorted(names):
            p = os.path.join(root, name)
            rel = "datasets/" + os.path.relpath(p, res)
            if name.endswith(".vocab"):  # a small non-LFS file: no oid published
                out.append({"type": "file", "path": rel, "size": os.path.getsize(p)})
                continue
            sha = hashlib.sha256(open(p, "rb").read()).hexdigest()
            out.append({"type": "file", "path": rel, "size": os.path.getsize(p),
                        "lfs": {"oid": sha, "size": os.path.getsize(p), "pointerSize": 134}})
    return out
json.dump(listing(ds), open(f"{api}/{ds}", "w"))
json.dump(listing("tokenizers"), open(f"{api}/tokenizers", "w"))
PYEOF

export PGOLF_HF_BASE="file://$HF" PGOLF_HF_REPO=$REPO
D="$OUT/data"
DS="$D/datasets/fineweb10B_sp1024"

# 1. Two train shards: the reference layout, byte-identical files, no .part left over.
bash "$SCRIPT" --out "$D" --train-shards 2 >"$OUT/1.out" 2>&1 || { cat "$OUT/1.out"; fail "download failed"; }
for f in fineweb_val_000000.bin fineweb_train_000000.bin fineweb_train_000001.bin; do
  cmp -s "$DS/$f" "$RES/datasets/fineweb10B_sp1024/$f" || fail "$f differs from the mirror"
done
[[ ! -e $DS/fineweb_train_000002.bin ]] || fail "--train-shards 2 fetched a third shard"
cmp -s "$D/tokenizers/fineweb_1024_bpe.model" "$RES/tokenizers/fineweb_1024_bpe.model" || fail "tokenizer differs"
[[ -s $D/tokenizers/fineweb_1024_bpe.vocab && -s $D/manifest.json ]] || fail "vocab or manifest missing"
! ls "$DS"/*.part "$D"/tokenizers/*.part >/dev/null 2>&1 || fail ".part files left behind"

# 2. Resume: a truncated .part of the third shard is completed, not restarted; existing files kept.
T3=fineweb_train_000002.bin
head -c 3000 "$RES/datasets/fineweb10B_sp1024/$T3" > "$DS/$T3.part"
touch -d '2001-01-01' "$DS/fineweb_train_000000.bin"
bash "$SCRIPT" --out "$D" --train-shards 3 >"$OUT/2.out" 2>&1 || { cat "$OUT/2.out"; fail "resume failed"; }
cmp -s "$DS/$T3" "$RES/datasets/fineweb10B_sp1024/$T3" || fail "resumed shard differs"
[[ $(stat -c %Y "$DS/fineweb_train_000000.bin") -lt 1000000000 ]] || fail "a complete file was fetched again"
grep -q "fetching datasets/datasets/fineweb10B_sp1024/fineweb_train_000000.bin" "$OUT/2.out" && fail "skipped file re-fetched"

# 3. A corrupted .part (right size, wrong bytes) fails the sha256 check and is deleted.
rm -f "$DS/$T3"
head -c 1024 "$RES/datasets/fineweb10B_sp1024/$T3" > "$DS/$T3.part"
head -c $(( $(stat -c %s "$RES/datasets/fineweb10B_sp1024/$T3") - 1024 )) /dev/zero >> "$DS/$T3.part"
expect_exit 1 bash "$SCRIPT" --out "$D" --train-shards 3
grep -q "sha256" /tmp/pgolf_e2e_out.$$ || fail "no sha256 message"
[[ ! -e $DS/$T3 && ! -e $DS/$T3.part ]] || fail "a bad download was kept"

# 4. A shard without a published checksum whose header disagrees with its size is refused.
M3="$RES/datasets/fineweb10B_sp1024/$T3"
head -c 4000 "$M3" > "$OUT/short.bin" && mv "$OUT/short.bin" "$M3"
"$PY" - "$API/datasets/fineweb10B_sp1024" "$T3" <<'PYEOF'
import json, sys
p, name = sys.argv[1], sys.argv[2]
json.dump([e for e in json.load(open(p)) if not e["path"].endswith(name)], open(p, "w"))
PYEOF
expect_exit 1 bash "$SCRIPT" --out "$D" --train-shards 3 --no-verify
grep -q "corrupt shard" /tmp/pgolf_e2e_out.$$ || fail "no corrupt-shard message"
[[ ! -e $DS/$T3 && ! -e $DS/$T3.part ]] || fail "a corrupt shard was kept"
expect_exit 1 env PGOLF_HF_BASE="file://$OUT/nowhere" bash "$SCRIPT" --out "$OUT/d2" --train-shards 1

# 5. Bad arguments and too many shards are errors.
expect_exit 2 bash "$SCRIPT" --bogus
expect_exit 1 bash "$SCRIPT" --out "$D" --train-shards x
expect_exit 1 bash "$SCRIPT" --out "$D" --train-shards 4
expect_exit 1 bash "$SCRIPT" --out "$D" --variant sp8192-caseops

# 6. The records' variants: each names its repository and shard count; caseops fetches the val
#    byte sidecars its manifest lists (val_bytes_glob) beside the val shards.
for v in sp4096:kevclark/parameter-golf:sp4096:143 sp8192:kevclark/parameter-golf:sp8192:128 \
         caseops:romeerp/parameter-golf-caseops-v1:sp8192_lossless_caps_caseops_v1_reserved:80; do
  IFS=: read -r name repo variant shards <<<"$v"
  expect_exit 1 env -u PGOLF_HF_REPO -u MATCHED_FINEWEB_REPO_ID PGOLF_HF_BASE="file://$OUT/nowhere" \
    bash "$SCRIPT" --out "$OUT/d3" --variant "$name"
  grep -qF "repo $repo (file://$OUT/nowhere), variant $variant, $shards train shards" /tmp/pgolf_e2e_out.$$ \
    || fail "variant $name: expected repo $repo, variant $variant, $shards train shards"
done
CREPO=test/pgolf-caseops
CRES="$HF/datasets/$CREPO/resolve/main/datasets"
"$PY" - "$CRES" <<'PYEOF'
import json, os, struct, sys
res = sys.argv[1]
ds = "datasets/fineweb10B_sp8192_lossless_caps_caseops_v1_reserved"
os.makedirs(f"{res}/{ds}"); os.makedirs(f"{res}/tokenizers")
def shard(path, vals):
    with open(path, "wb") as f:
        f.write(struct.pack("<256i", 20240520, 1, len(vals), *([0] * 253)))
        f.write(struct.pack(f"<{len(vals)}H", *vals))
shard(f"{res}/{ds}/fineweb_val_000000.bin", [1, 300, 4, 301, 1, 302])
shard(f"{res}/{ds}/fineweb_val_bytes_000000.bin", [0, 3, 0, 5, 0, 2])
shard(f"{res}/{ds}/fineweb_train_000000.bin", [1, 5, 6, 7])
open(f"{res}/tokenizers/fineweb_8192_bpe_lossless_caps_caseops_v1_reserved.model", "wb").write(b"m" * 64)
json.dump({"datasets": [{"name": "fineweb10B_sp8192_lossless_caps_caseops_v1_reserved",
                         "tokenizer_name": "caseops", "val_bytes_glob": "fineweb_val_bytes_*.bin",
                         "stats": {"files_train": 1, "files_val": 1}}],
           "tokenizers": [{"name": "caseops",
                           "model_path": "tokenizers/fineweb_8192_bpe_lossless_caps_caseops_v1_reserved.model"}]},
          open(f"{res}/manifest.json", "w"))
PYEOF
C="$OUT/dc"
PGOLF_HF_REPO=$CREPO bash "$SCRIPT" --out "$C" --variant caseops --train-shards 1 >"$OUT/6.out" 2>&1 \
  || { cat "$OUT/6.out"; fail "caseops download failed"; }
CDS="$C/datasets/fineweb10B_sp8192_lossless_caps_caseops_v1_reserved"
for f in fineweb_val_000000.bin fineweb_val_bytes_000000.bin fineweb_train_000000.bin; do
  cmp -s "$CDS/$f" "$CRES/datasets/fineweb10B_sp8192_lossless_caps_caseops_v1_reserved/$f" || fail "caseops $f differs"
done
[[ -s $C/tokenizers/fineweb_8192_bpe_lossless_caps_caseops_v1_reserved.model ]] || fail "caseops tokenizer missing"
grep -q "TOKENIZER_PATH=$C/tokenizers/fineweb_8192_bpe_lossless_caps_caseops_v1_reserved.model" "$OUT/6.out" \
  || fail "no TOKENIZER_PATH hint"
pass
