#!/usr/bin/env bash
# Downloads the challenge's published FineWeb export (the files the reference's
# data/cached_challenge_fineweb.py fetches from the Hugging Face dataset willdepueoai/parameter-golf):
# datasets/manifest.json, every fineweb_val_*.bin, the first N fineweb_train_*.bin and the tokenizer
# of the variant, into the reference's layout:
#   data/manifest.json
#   data/datasets/fineweb10B_sp1024/fineweb_{val,train}_NNNNNN.bin
#   data/tokenizers/fineweb_1024_bpe.{model,vocab}
# which are pgolf's default DATA_PATH and TOKENIZER_PATH (run from the repository root).
#
# Resumable: each file is fetched into FILE.part with `curl -C -` and renamed when complete, so an
# interrupted run continues where it stopped; complete files are skipped. Checksums: the Hugging Face
# tree API publishes the sha256 (git-LFS oid) and size of every LFS file; each download is checked
# against them (and shards against their own header: magic 20240520, version 1, 1024 + 2*count
# bytes). A mismatch deletes the file and fails.
#
# Usage: scripts/download_fineweb.sh [--train-shards N] [--variant sp1024] [--out DIR] [--no-verify]
#   --train-shards N  training shards (default: what the variant's records fetched, below)
#   --variant V       a variant of the records, fetched from the Hugging Face dataset they used:
#                       sp1024   willdepueoai/parameter-golf       80 shards (the seeds, <= 1.1099)
#                       sp4096   kevclark/parameter-golf          143 shards (1.0979-1.0897)
#                       sp8192   kevclark/parameter-golf          128 shards (1.0856-1.0714)
#                       caseops  romeerp/parameter-golf-caseops-v1 80 shards (1.0678 on): the
#                                variant sp8192_lossless_caps_caseops_v1_reserved, its val byte
#                                sidecars (fineweb_val_bytes_*.bin) and its CaseOps tokenizer
#                     or any other sp<N>[_suffix] / byte260 in the repository's manifest
#   --out DIR         data root (default ./data)
#   --no-verify       skip the sha256 check (sizes and shard headers are still checked)
# Environment: PGOLF_HF_BASE (default https://huggingface.co), PGOLF_HF_REPO (default: the
# variant's repository above), PGOLF_HF_PREFIX (default datasets) — the reference's
# MATCHED_FINEWEB_REPO_ID / MATCHED_FINEWEB_REMOTE_ROOT_PREFIX are honoured too. The manifest
# lists val byte sidecars (val_bytes_glob) where a variant has them; they are fetched too.
set -euo pipefail

BASE=${PGOLF_HF_BASE:-https://huggingface.co}
REPO=${PGOLF_HF_REPO:-${MATCHED_FINEWEB_REPO_ID:-}}
PREFIX=${PGOLF_HF_PREFIX:-${MATCHED_FINEWEB_REMOTE_ROOT_PREFIX:-datasets}}
TRAIN_SHARDS=
VARIANT=sp1024
OUT=data
VERIFY=1

die() { echo "[download] ERROR: $*" >&2; exit 1; }
say() { echo "[download] $*"; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }

while (($#)); do
  case $1 in
    --train-shards) TRAIN_SHARDS=${2:?--train-shards needs a value}; shift 2 ;;
    --train-shards=*) TRAIN_SHARDS=${1#*=}; shift ;;
    --variant) VARIANT=${2:?--variant needs a value}; shift 2 ;;
    --variant=*) VARIANT=${1#*=}; shift ;;
    --out) OUT=${2:?--out needs a value}; shift 2 ;;
    --out=*) OUT=${1#*=}; shift ;;
    --no-verify) VERIFY=0; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown argument: $1" >&2; usage 2 ;;
  esac
done
# The records' repositories and shard counts (their READMEs' download commands).
case $VARIANT in
  caseops) VARIANT=sp8192_lossless_caps_caseops_v1_reserved ;;
esac
case $VARIANT in
  sp1024|byte260) DEF_REPO=willdepueoai/parameter-golf; DEF_SHARDS=80 ;;
  sp4096) DEF_REPO=kevclark/parameter-golf; DEF_SHARDS=143 ;;
  sp8192) DEF_REPO=kevclark/parameter-golf; DEF_SHARDS=128 ;;
  sp8192_lossless_caps_caseops_v1_reserved) DEF_REPO=romeerp/parameter-golf-caseops-v1; DEF_SHARDS=80 ;;
  *) DEF_REPO=willdepueoai/parameter-golf; DEF_SHARDS=80 ;;
esac
REPO=${REPO:-$DEF_REPO}
TRAIN_SHARDS=${TRAIN_SHARDS:-$DEF_SHARDS}
[[ $TRAIN_SHARDS =~ ^[0-9]+$ ]] || die "--train-shards: expected a non-negative integer, found '$TRAIN_SHARDS'"
case $VARIANT in
  byte260) DS=fineweb10B_byte260 ;;
  sp[0-9]*) [[ $VARIANT =~ ^sp[0-9]+(_[a-z0-9_]+)?$ ]] || die "--variant: expected sp<VOCAB>[_suffix], caseops or byte260, found '$VARIANT'"
            DS=fineweb10B_$VARIANT ;;
  *) die "--variant: expected sp<VOCAB>[_suffix], caseops or byte260, found '$VARIANT'" ;;
esac
command -v curl >/dev/null || die "curl not found"
command -v python3 >/dev/null || die "python3 not found (used to read JSON)"
((VERIFY == 0)) || command -v sha256sum >/dev/null || die "sha256sum not found (or pass --no-verify)"

RESOLVE="$BASE/datasets/$REPO/resolve/main"
TREE_API="$BASE/api/datasets/$REPO/tree/main"
CURL=(curl -fL --retry 5 --retry-delay 2 --connect-timeout 30 -sS)
mkdir -p "$OUT/datasets/$DS" "$OUT/tokenizers"
SUMS="$OUT/.download_sha256_$DS.tsv"  # remote path <TAB> size <TAB> sha256, from the tree API

# Local destination of a remote path below PREFIX (the reference's local_path_for_remote).
local_path() {
  local rel=${1#"$PREFIX"/}
  case $rel in
    datasets/*) echo "$OUT/datasets/${rel#datasets/}" ;;
    tokenizers/*) echo "$OUT/tokenizers/${rel#tokenizers/}" ;;
    *) echo "$OUT/$rel" ;;
  esac
}

# Published size and sha256 of every LFS file under one remote folder, appended to $SUMS.
fetch_sums() {
  local folder=$1 json
  json=$("${CURL[@]}" "$TREE_API/$folder?recursive=true") \
    || { say "no checksum listing for $folder (tree API unreachable); sizes/headers only"; return 0; }
  python3 -c '
import json, sys
for e in json.loads(sys.stdin.read()):
    lfs = e.get("lfs") or {}
    if e.get("type") == "file" and lfs.get("oid"):
        print("\t".join(str(v) for v in (e["path"], lfs.get("size", e.get("size", "")), lfs["oid"])))
' <<<"$json" >>"$SUMS" || die "unreadable tree listing for $folder"
}

lookup() {  # lookup REMOTE_PATH -> "size sha256" or nothing
  [[ -f $SUMS ]] || return 0
  awk -F'\t' -v p="$1" '$1 == p { print $2, $3; exit }' "$SUMS"
}

check_shard_header() {  # FILE: magic, version, exact size
  python3 - "$1" <<'PYEOF'
import os, struct, sys
p = sys.argv[1]
with open(p, "rb") as f:
    hdr = f.read(1024)
if len(hdr) < 1024:
    sys.exit(f"{p}: shorter than the 1024-byte header")
magic, version, count = struct.unpack("<3i", hdr[:12])
want = 1024 + 2 * count
if magic != 20240520 or version != 1 or os.path.getsize(p) != want:
    sys.exit(f"{p}: bad shard (magic {magic}, version {version}, size {os.path.getsize(p)}, "
             f"expected {want} bytes for {count} tokens)")
PYEOF
}

# get REMOTE_PATH: download into place unless already complete; verify; atomic rename.
get() {
  local remote=$1 dest part meta size sha got
  dest=$(local_path "$remote")
  part="$dest.part"
  meta=$(lookup "$remote")
  size=${meta%% *}
  sha=${meta#* }
  if [[ -f $dest ]]; then
    if [[ -z $meta || $(stat -c %s "$dest") == "$size" ]]; then return 0; fi
    say "$dest has the wrong size; fetching again"
    rm -f "$dest"
  fi
  mkdir -p "$(dirname "$dest")"
  say "fetching $remote"
  if ! "${CURL[@]}" -C - -o "$part" "$RESOLVE/$remote"; then
    # A finished .part makes the server answer 416 to the resume request: accept it if complete.
    [[ -n $meta && -f $part && $(stat -c %s "$part") == "$size" ]] || die "download failed: $RESOLVE/$remote (rerun to resume)"
  fi
  if [[ -n $meta ]]; then
    got=$(stat -c %s "$part")
    [[ $got == "$size" ]] || { rm -f "$part"; die "$remote: $got bytes, expected $size"; }
    if ((VERIFY)); then
      got=$(sha256sum "$part" | cut -d' ' -f1)
      [[ $got == "$sha" ]] || { rm -f "$part"; die "$remote: sha256 $got, expected $sha"; }
    fi
  fi
  if [[ $dest == *.bin ]]; then check_shard_header "$part" || { rm -f "$part"; die "$remote: corrupt shard"; }; fi
  mv -f "$part" "$dest"
}

say "repo $REPO ($BASE), variant $VARIANT, $TRAIN_SHARDS train shards -> $OUT"
rm -f "$SUMS"
fetch_sums "$PREFIX/datasets/$DS"
fetch_sums "$PREFIX/tokenizers"
# The manifest is small and may change: always fetch it fresh.
rm -f "$(local_path "$PREFIX/manifest.json")"
get "$PREFIX/manifest.json"
MANIFEST=$(local_path "$PREFIX/manifest.json")

read -r MAX_TRAIN VAL_SHARDS SIDECARS TOK_FILES < <(python3 - "$MANIFEST" "$DS" <<'PYEOF'
import json, sys
m = json.load(open(sys.argv[1]))
ds = next((d for d in m.get("datasets", []) if d.get("name") == sys.argv[2]), None)
if ds is None:
    sys.exit(f"dataset {sys.argv[2]} not in the manifest")
tok = next((t for t in m.get("tokenizers", []) if t.get("name") == ds.get("tokenizer_name")), None)
if tok is None:
    sys.exit(f"tokenizer {ds.get('tokenizer_name')} not in the manifest")
files = [str(tok[k]) for k in ("model_path", "vocab_path", "path") if tok.get(k)]
st = ds.get("stats") or {}
print(int(st["files_train"]), int(st["files_val"]), 1 if ds.get("val_bytes_glob") else 0,
      ",".join(files))
PYEOF
) || die "cannot read $MANIFEST"
((TRAIN_SHARDS <= MAX_TRAIN)) || die "$VARIANT has only $MAX_TRAIN train shards, requested $TRAIN_SHARDS"

for ((i = 0; i < VAL_SHARDS; i++)); do get "$(printf '%s/datasets/%s/fineweb_val_%06d.bin' "$PREFIX" "$DS" "$i")"; done
# Byte sidecars (CaseOps): one per val shard, where the manifest says the variant has them.
if ((SIDECARS)); then
  for ((i = 0; i < VAL_SHARDS; i++)); do get "$(printf '%s/datasets/%s/fineweb_val_bytes_%06d.bin' "$PREFIX" "$DS" "$i")"; done
fi
for ((i = 0; i < TRAIN_SHARDS; i++)); do get "$(printf '%s/datasets/%s/fineweb_train_%06d.bin' "$PREFIX" "$DS" "$i")"; done
IFS=, read -ra toks <<<"$TOK_FILES"
for t in "${toks[@]}"; do get "$PREFIX/$t"; done

say "done: $OUT/datasets/$DS ($VAL_SHARDS val$( ((SIDECARS)) && echo " + $VAL_SHARDS byte sidecar") + $TRAIN_SHARDS train shards), tokenizer files: ${toks[*]}"
model=""
for t in "${toks[@]}"; do [[ $t == *.model ]] && model=$(local_path "$PREFIX/$t"); done
say "train with: build/pgolf train --config configs/<record>.json  (DATA_PATH=$OUT/datasets/$DS${model:+ TOKENIZER_PATH=$model})"
