// Per-token byte lookup tables for bits-per-byte (reference-spec §3.2) and the byte count of a
// scored position (§3.3): bytes = base_bytes[tgt] + (has_leading_space[tgt] && !is_boundary[prev]).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "pgolf/tokenizer/tokenizer.h"

namespace pgolf::tokenizer {

// Tables of length max(tokenizer vocab, vocab_size); dtypes int16, bool, bool (as the reference).
struct ByteLuts {
  torch::Tensor base_bytes;         // (table,) int16: UTF-8 bytes of the piece without its "▁"
  torch::Tensor has_leading_space;  // (table,) bool: piece starts with "▁" (U+2581)
  torch::Tensor is_boundary;        // (table,) bool: control/unknown/unused, or beyond the vocab
  int64_t size() const { return base_bytes.size(0); }
  ByteLuts to(const torch::Device& device) const;
};

// One table row, from the piece's kind and text (a pure function, unit-tested without a model).
struct PieceBytes {
  int16_t base_bytes = 0;
  bool has_leading_space = false;
  bool is_boundary = true;
};
// `special` = control, unknown or unused; `byte` = byte-fallback piece <0xNN>.
PieceBytes piece_bytes(bool special, bool byte, const std::string& piece);

ByteLuts build_byte_luts(const Tokenizer& tok, int64_t vocab_size);

// Bytes of each scored position: prev_ids are the inputs x_t, tgt_ids the targets y_t (same
// shape, integer dtype, on the tables' device). Returns int16 of that shape, like the reference;
// sum it in float64 or int64.
torch::Tensor count_bytes(const ByteLuts& luts, const torch::Tensor& prev_ids,
                          const torch::Tensor& tgt_ids);

}  // namespace pgolf::tokenizer
