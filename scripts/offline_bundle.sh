#!/usr/bin/env bash
# Packs everything that a machine with only a CUDA torch (no network, none of our apt packages) needs to
# build and test pgolf into one ignored folder, for scripts/gpu_check.sh (README "GPU check").
# Run it on a networked Debian 12 machine after scripts/setup.sh (it reuses the smoke dataset).
#   scripts/offline_bundle.sh [--out DIR] [--reference PATH/TO/PR180/train_gpt.py] [--python-version 3.12]
# What goes in, and why this form:
#   src/sentencepiece-*.tar.gz  PyPI sdist (C++ sources with its own protobuf-lite/absl): built there,
#                               because a binary library would tie the bundle to Debian's glibc/libstdc++.
#   src/googletest.tar.gz       Debian's googletest sources (/usr/src/googletest): built there, same reason.
#   prefix/                     headers-only and static parts of Debian .debs (`apt-get download`, then
#                               `dpkg-deb -x` here, so the target needs no dpkg): CLI11, nlohmann-json, the
#                               Gloo headers torch's ProcessGroupGloo.hpp includes, zstd, zlib, brotli and
#                               lzma headers with their static libraries (nothing to install at run time).
#   data/smoke/                 the smoke dataset (sp1024 shards + tokenizer) for the timed runs.
#   golden/                     the golden cases of the kinds the GPU check runs: the smallest case of each
#                               kind first, then the others while they fit (MANIFEST.txt lists them).
#   wheels/                     with --reference only: the reference's Python imports that a bare torch
#                               lacks (sentencepiece, numpy) for the target's Python version (not
#                               zstandard: the reference falls back to zlib, which times nothing we compare).
#   reference/train_gpt.py      with --reference only: the user's copy of PR #180's script (never committed:
#                               the bundle folder is ignored by git).
# The bundle must stay within 48 MiB (it travels with the working tree); the script fails if it does not.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=gpu_bundle
REFERENCE=""
PYVER=3.12
SPM_VERSION=${PGOLF_SPM_VERSION:-0.2.0}
MAX_BYTES=$((48 * 1024 * 1024))
GPU_GOLDEN_KINDS="model_forward newton_schulz eval_bpb train_steps frontier_model_forward frontier_muon"
GPU_GOLDEN_NEEDED="model_tied_bigram"

die() { echo "[bundle] ERROR: $*" >&2; exit 1; }
say() { echo "[bundle] $*"; }
while (($#)); do
  case $1 in
    --out) OUT=${2:?--out needs a folder}; shift 2 ;;
    --reference) REFERENCE=${2:?--reference needs the path of train_gpt.py}; shift 2 ;;
    --python-version) PYVER=${2:?--python-version needs e.g. 3.12}; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ -z $REFERENCE || -f $REFERENCE ]] || die "--reference $REFERENCE: no such file"
for tool in apt-get dpkg-deb tar sha256sum; do command -v $tool >/dev/null || die "$tool not found"; done
PY=$(command -v python3) || die "python3 not found"
[[ -n $(find data/smoke -name '*.model' 2>/dev/null) && -n $(ls data/smoke/fineweb_train_*.bin 2>/dev/null) ]] ||
  die "data/smoke is missing: run scripts/setup.sh first (it prepares the smoke dataset)"

rm -rf "$OUT"; mkdir -p "$OUT"/{src,prefix,data,golden}
OUT=$(cd "$OUT" && pwd)
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT

say "sentencepiece $SPM_VERSION sources (PyPI sdist)"
"$PY" -m pip download -q --no-deps --no-binary :all: -d "$TMP/sdist" "sentencepiece==$SPM_VERSION" ||
  die "pip download sentencepiece==$SPM_VERSION failed"
cp "$TMP"/sdist/sentencepiece-*.tar.gz "$OUT/src/"

say "Debian packages: googletest libcli11-dev nlohmann-json3-dev libgloo-dev libzstd-dev zlib1g-dev libbrotli-dev liblzma-dev"
mkdir -p "$TMP/debs" "$TMP/x"
(cd "$TMP/debs" && apt-get download googletest libcli11-dev nlohmann-json3-dev libgloo-dev libzstd-dev \
  zlib1g-dev libbrotli-dev liblzma-dev >/dev/null) || die "apt-get download failed (run apt-get update?)"
for deb in "$TMP"/debs/*.deb; do dpkg-deb -x "$deb" "$TMP/x"; done
# Deterministic (no timestamps), so a rebuilt bundle lets gpu_check.sh reuse the built deps.
tar -C "$TMP/x/usr/src" --sort=name --mtime=@0 --owner=0 --group=0 -cf - googletest | gzip -n >"$OUT/src/googletest.tar.gz"
X=$TMP/x/usr
P=$OUT/prefix
mkdir -p "$P/include" "$P/lib" "$P/share/cmake"
cp -r "$X/include/CLI" "$X/include/nlohmann" "$X/include/gloo" "$X/include/brotli" "$X/include/lzma" \
  "$X/include/lzma.h" "$P/include/"
cp "$X"/include/{zstd.h,zstd_errors.h,zdict.h,zlib.h,zconf.h} "$P/include/" 2>/dev/null ||
  cp "$X"/include/{zstd.h,zstd_errors.h,zdict.h,zlib.h} "$X"/include/x86_64-linux-gnu/zconf.h "$P/include/"
cp "$X"/lib/x86_64-linux-gnu/{libzstd.a,libz.a,liblzma.a,libbrotlienc.a,libbrotlidec.a,libbrotlicommon.a} "$P/lib/"
cp -r "$X/share/cmake/CLI11" "$X/share/cmake/nlohmann_json" "$P/share/cmake/"
for f in "$X"/share/doc/{libcli11-dev,nlohmann-json3-dev,libgloo-dev,libzstd-dev,zlib1g-dev,libbrotli-dev,liblzma-dev}/copyright; do
  [[ -f $f ]] && { mkdir -p "$P/licenses"; cp "$f" "$P/licenses/$(basename "$(dirname "$f")").copyright"; }
done
for deb in "$TMP"/debs/*.deb; do
  echo "$(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version)"; done >"$OUT/debian_versions.txt"

say "smoke dataset (tokenizer, val and the first two train shards: the timed runs wrap around)"
mkdir -p "$OUT/data/smoke"
cp -r data/smoke/tokenizer data/smoke/fineweb_val_*.bin "$OUT/data/smoke/"
ls data/smoke/fineweb_train_*.bin | sort | head -2 | xargs -I{} cp {} "$OUT/data/smoke/"

if [[ -n $REFERENCE ]]; then
  say "reference script and its Python imports for Python $PYVER"
  mkdir -p "$OUT/reference" "$OUT/wheels"
  cp "$REFERENCE" "$OUT/reference/train_gpt.py"
  "$PY" -m pip download -q --no-deps --only-binary :all: --python-version "$PYVER" \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    -d "$OUT/wheels" sentencepiece numpy || die "pip download of the reference's wheels failed"
fi

say "golden cases of the kinds: $GPU_GOLDEN_KINDS (within what is left of the 48 MiB)"
# Candidates from the in-tree copies when the repository has them, else ../shared (their source).
# First the cases other checks load (model_tied_bigram: newton_schulz and train_steps read its
# weights, and it is the model_forward case with gradients), then the smallest case of every other
# kind, then the remaining cases, smallest first, while they fit.
roots=()
for r in tests/golden/cases/seed tests/golden/cases/frontier ../shared/golden ../shared/golden-frontier; do
  [[ -d $r ]] && roots+=("$r")
done
((${#roots[@]})) || die "no golden cases: neither tests/golden/cases nor ../shared/golden exists"
left=$((MAX_BYTES - $(du -sb "$OUT" | cut -f1) - 64 * 1024))
picked=$("$PY" - "$left" "$GPU_GOLDEN_KINDS" "$GPU_GOLDEN_NEEDED" "${roots[@]}" <<'PYEOF'
import json, os, sys
left, kinds, needed, roots = int(sys.argv[1]), sys.argv[2].split(), sys.argv[3].split(), sys.argv[4:]
cases = {}
for root in roots:
    for name in sorted(os.listdir(root)):
        m = os.path.join(root, name, "manifest.json")
        if name in cases or not os.path.isfile(m):
            continue
        kind = json.load(open(m))["kind"]
        if kind in kinds:
            d = os.path.dirname(m)
            cases[name] = (kind, sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)), d)
order = sorted(cases.items(), key=lambda kv: kv[1][1])
first = {cases[n][0]: n for n in needed if n in cases}
for name, (kind, size, d) in order:
    first.setdefault(kind, name)
chosen = []
for pass_firsts in (True, False):
    for name, (kind, size, d) in order:
        if (first[kind] == name) == pass_firsts and size <= left:
            chosen.append(d); left -= size
if any(n in cases and cases[n][2] not in chosen for n in needed):
    sys.exit("no room for the needed cases: " + " ".join(needed))
missing = [k for k in kinds if k in {c[0] for c in cases.values()} and
           not any(cases[os.path.basename(d)][0] == k for d in chosen)]
if missing:
    sys.exit("no room for a case of: " + " ".join(missing))
print("\n".join(chosen))
PYEOF
) || die "choosing the golden cases failed"
while IFS= read -r d; do cp -r "$d" "$OUT/golden/"; done <<<"$picked"
# The tokenizers the eval_bpb and train_steps cases name (a data folder, not a case).
for r in "${roots[@]}"; do
  [[ -d $r/tokenizers ]] && { cp -r "$r/tokenizers" "$OUT/golden/"; break; }
done
cases_in=$(ls "$OUT/golden" | tr '\n' ' ')
say "golden cases: $cases_in"

(cd "$OUT" && find . -type f ! -name MANIFEST.txt -print0 | sort -z | xargs -0 sha256sum) >"$OUT/MANIFEST.txt"
{ echo "# made $(date -u +%FT%TZ) from pgolf $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
  echo "# sentencepiece $SPM_VERSION; Debian packages in debian_versions.txt; golden cases: $cases_in"
} >>"$OUT/MANIFEST.txt"
bytes=$(du -sb "$OUT" | cut -f1)
say "bundle $OUT: $bytes bytes ($(numfmt --to=iec-i "$bytes")), limit $MAX_BYTES"
((bytes <= MAX_BYTES)) || die "the bundle is $bytes bytes, over the 48 MiB limit"
say "next, on the GPU machine: scripts/gpu_check.sh --bundle $(realpath --relative-to="$ROOT" "$OUT")"
