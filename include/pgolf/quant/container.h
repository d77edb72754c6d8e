// The artifact file: torch.save({"w": {name: tensor}, "m": {name: str | {"type": str}}}) bytes
// (written with torch::pickle_save, readable by Python torch.load and vice versa), compressed as one
// zstd frame (level ZSTD_LEVEL, content size in the header) or zlib, as in PR #180's
// final_model.int8.ptz. Reading validates every layer and turns any failure into an input error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pgolf/quant/quantize.h"

namespace pgolf::quant {

// kLzma, kBrotli and kPergroup are the frontier records' (codecs.h, pergroup.h).
using Codec = config::Compressor;  // COMPRESSOR (config/choices.h)

struct CompressOptions {
  Codec codec = Codec::kZstd;
  int level = 22;        // zstd 1..22 (>= 20 is "ultra"); zlib uses min(level, 9)
  int threads = 0;       // zstd workers (0: single-threaded); output stays one frame either way
  bool checksum = true;  // zstd frame checksum (4 bytes) so corruption is caught before unpickling
  bool byte_shuffle = false;  // BYTE_SHUFFLE: BSHF stride-2 shuffle before lzma / brotli
};

std::vector<char> compress(const std::vector<char>& raw, const CompressOptions& opts);
// The most bytes an artifact of `compressed` bytes may decode to: 64 times its size (real artifacts,
// quantised weights, compress by less than 4x), at least 64 MiB, at most 1 GiB (a 16 MB artifact
// decodes to well under 100 MB). Bounds decompression bombs (README, Reliability).
constexpr uint64_t kMaxDecodedBytes = uint64_t{1} << 30;
uint64_t decode_limit(uint64_t compressed);
// Detects zstd (magic 28 B5 2F FD), xz (FD 37 7A 58 5A 00) or zlib (RFC 1950 header), else tries
// brotli (no magic), and decompresses in 1 MiB steps; a BSHF-shuffled payload is unshuffled.
// Requires exactly one zstd frame with its content size in the header and no trailing bytes; the
// declared and decoded sizes are bounded by `max_bytes` (0: decode_limit(blob.size())), and the
// bytes must form a torch.save zip as they arrive. `what` names the source in errors.
std::vector<char> decompress(const std::vector<char>& blob, const std::string& what,
                             uint64_t max_bytes = 0);

// torch.save-format bytes of `value` (a dict of tensors and strings), without type tags, so that
// Python's torch.load(weights_only=True) reads it.
std::vector<char> torch_save_bytes(const c10::IValue& value);
// torch.save-format bytes of {"w": quant.w, "m": quant.meta} (order preserved).
std::vector<char> serialize_quant(const QuantResult& quant);
// Parses such bytes (ours or Python's torch.save); structural problems are input errors.
QuantResult deserialize_quant(const std::vector<char>& bytes, const std::string& what);

// compress(serialize_quant(quant)) / deserialize_quant(decompress(bytes)); kPergroup and a blob
// starting with "PGRP" go through serialize_pergroup / deserialize_pergroup instead.
std::vector<char> encode_artifact(const QuantResult& quant, const CompressOptions& opts);
QuantResult decode_artifact(const std::vector<char>& blob, const std::string& what);

// Whole-file helpers: atomic write; read with a clear error for missing/empty files.
void write_artifact(const std::string& path, const std::vector<char>& blob);
QuantResult read_artifact(const std::string& path);

}  // namespace pgolf::quant
