# Regression seeds of issue 17: decompression bombs and expanded (stride-0) tensors, written into
# the corpus as regress_* files (kept by make_corpus.sh). Needs torch and zstandard:
#   python3 tests/fuzz/gen_bomb_seeds.py tests/fuzz/corpus
import io, struct, sys, zlib, torch, zstandard
out = sys.argv[1]
def w(path, b):
    open(f"{out}/{path}", "wb").write(b); print(path, len(b))
# zstd frame header declaring 16 GiB, then one empty last raw block
w("artifact/regress_zstd_declares_16g.ptz",
  b"\x28\xb5\x2f\xfd" + bytes([0xE0]) + struct.pack("<Q", 16 << 30) + b"\x01\x00\x00")
zeros = b"\0" * (32 << 20)
w("artifact/regress_zstd_zeros_32m.ptz", zstandard.ZstdCompressor(level=19).compress(zeros))
w("artifact/regress_zlib_zeros_32m.ptz", zlib.compress(zeros, 9))
# a zip local header declaring a record of 4 GiB - 2 bytes, then zeros
hdr = b"PK\x03\x04" + struct.pack("<HHHHHIIIHH", 20, 0, 0, 0, 0, 0, 0xFFFFFFFE, 0xFFFFFFFE, 4, 0) + b"a/xx"
w("artifact/regress_zstd_huge_record.ptz", zstandard.ZstdCompressor(level=19).compress(hdr + b"\0" * (8 << 20)))
def save(obj):
    buf = io.BytesIO(); torch.save(obj, buf); return buf.getvalue()
w("checkpoint/regress_stride0_expanded.pt", save({"model/tok_emb.weight": torch.zeros(1).expand(1 << 30, 1)}))
# 4 Gi int8 elements on one stored byte, raw (the fuzz target parses "PK" inputs directly) and as zstd
raw = save({"w": {"x": torch.zeros(1, dtype=torch.int8).expand(1 << 32)}, "m": {"x": "passthrough"}})
w("artifact/regress_stride0_expanded_raw.pt", raw)
w("artifact/regress_stride0_expanded.ptz", zstandard.ZstdCompressor(level=19).compress(raw))
