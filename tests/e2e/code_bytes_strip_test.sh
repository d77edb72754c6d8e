#!/usr/bin/env bash
# The counted code bytes (README "Code bytes") without a full build: every counted C/C++/CUDA file,
# comments stripped by scripts/code_bytes.sh, is token for token the original (both through GCC's own
# comment removal, `g++ -fpreprocessed -E`, whitespace collapsed), and every quoted #include of a
# counted file resolves inside the counted tree (next to the file, under include/ or src/), is a
# generated header, or sits under `#if !PGOLF_SUBMISSION`. The full build of the counted tree is
# code_bytes_build (label code_bytes).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
command -v zstd >/dev/null && command -v g++ >/dev/null || { echo "SKIP: needs zstd and g++"; exit 77; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
PGOLF_CODE_TAR="$OUT/code.tar" bash "$PGOLF_SOURCE_DIR/scripts/code_bytes.sh" "$PGOLF_SOURCE_DIR" >/dev/null
mkdir "$OUT/tree" && tar -xf "$OUT/code.tar" -C "$OUT/tree"
"$PY" - "$PGOLF_SOURCE_DIR" "$OUT/tree" <<'PYEOF'
import os, re, subprocess, sys
src, tree = sys.argv[1], sys.argv[2]
GENERATED = {"pgolf/version.h", "pgolf/cuda_kernels.h", "pgolf/submission.h"}
def tokens(path):
    out = subprocess.run(["g++", "-x", "c++", "-std=c++17", "-fpreprocessed", "-dD", "-E", "-P", path],
                         capture_output=True, text=True)
    assert out.returncode == 0, (path, out.stderr[:500])
    return " ".join(out.stdout.split())
files = []
for root, _, names in os.walk(tree):
    for n in names:
        rel = os.path.relpath(os.path.join(root, n), tree)
        if re.search(r"\.(h|hpp|cc|cpp|cu|cuh)$", rel) or rel.endswith(".h.in"):
            files.append(rel)
assert len(files) > 50, files
bad = [f for f in files if tokens(os.path.join(src, f)) != tokens(os.path.join(tree, f))]
assert not bad, ("stripping changed the tokens of", bad)
missing = []
for f in files:
    guard = []  # stack: True while inside #if !PGOLF_SUBMISSION
    for line in open(os.path.join(tree, f), encoding="utf-8", errors="replace"):
        s = line.strip()
        if s.startswith("#if"):
            guard.append(s.replace(" ", "") == "#if!PGOLF_SUBMISSION")
        elif s.startswith("#endif") and guard:
            guard.pop()
        m = re.match(r'#\s*include\s+"([^"]+)"', s)
        if not m or any(guard) or m.group(1) in GENERATED:
            continue
        h = m.group(1)
        here = os.path.join(tree, os.path.dirname(f), h)
        if not any(os.path.isfile(p) for p in (here, os.path.join(tree, "include", h), os.path.join(tree, "src", h))):
            missing.append((f, h))
assert not missing, ("counted files include headers the counted tree lacks", missing)
print(len(files), "counted C/C++/CUDA files: tokens unchanged, includes resolve")
PYEOF
pass
