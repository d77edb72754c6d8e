// Byte lookup tables exactly as the reference's build_sentencepiece_luts (reference-spec §3.2)
// and the per-position byte count used by every bpb evaluation (§3.3).
#include "pgolf/tokenizer/byte_luts.h"

#include <algorithm>

#include "pgolf/core/error.h"

namespace pgolf::tokenizer {
namespace {

// U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's word-initial marker, in UTF-8.
constexpr char kSpaceMarker[] = "\xE2\x96\x81";
constexpr size_t kSpaceMarkerBytes = 3;

}  // namespace

ByteLuts ByteLuts::to(const torch::Device& device) const {
  return {base_bytes.to(device), has_leading_space.to(device), is_boundary.to(device)};
}

PieceBytes piece_bytes(bool special, bool byte, const std::string& piece) {
  PieceBytes out;
  if (special) return out;  // 0 bytes, no space, boundary
  out.is_boundary = false;
  if (byte) {
    out.base_bytes = 1;  // <0xNN> stands for exactly one byte
    return out;
  }
  size_t len = piece.size();
  if (piece.compare(0, kSpaceMarkerBytes, kSpaceMarker) == 0) {
    out.has_leading_space = true;  // the marker is a space, counted only after a non-boundary
    len -= kSpaceMarkerBytes;
  }
  out.base_bytes = static_cast<int16_t>(len);
  return out;
}

ByteLuts build_byte_luts(const Tokenizer& tok, int64_t vocab_size) {
  const int64_t sp_vocab = tok.vocab_size();
  const int64_t table = std::max(sp_vocab, vocab_size);
  // Ids beyond the SentencePiece vocab keep the defaults: 0 bytes, no space, boundary.
  auto base = torch::zeros({table}, torch::kInt16);
  auto space = torch::zeros({table}, torch::kBool);
  auto boundary = torch::ones({table}, torch::kBool);
  auto* b = base.data_ptr<int16_t>();
  auto* s = space.data_ptr<bool>();
  auto* d = boundary.data_ptr<bool>();
  for (int id = 0; id < sp_vocab; ++id) {
    const bool special = tok.is_control(id) || tok.is_unknown(id) || tok.is_unused(id);
    const auto row = piece_bytes(special, !special && tok.is_byte(id),
                                 special ? std::string() : tok.id_to_piece(id));
    b[id] = row.base_bytes;
    s[id] = row.has_leading_space;
    d[id] = row.is_boundary;
  }
  return {base, space, boundary};
}

torch::Tensor count_bytes(const ByteLuts& luts, const torch::Tensor& prev_ids,
                          const torch::Tensor& tgt_ids) {
  PGOLF_CHECK(prev_ids.sizes() == tgt_ids.sizes(),
              "count_bytes: prev_ids " << prev_ids.sizes() << " and tgt_ids " << tgt_ids.sizes()
                                       << " must have the same shape");
  PGOLF_CHECK(!prev_ids.is_floating_point() && !tgt_ids.is_floating_point(),
              "count_bytes: ids must be integers, found " << prev_ids.dtype() << " and "
                                                          << tgt_ids.dtype());
  auto tgt = tgt_ids.to(torch::kLong);
  auto prev = prev_ids.to(torch::kLong);
  auto bytes = luts.base_bytes.index({tgt});  // int16
  auto space = luts.has_leading_space.index({tgt}) & ~luts.is_boundary.index({prev});
  return bytes + space.to(torch::kInt16);
}

}  // namespace pgolf::tokenizer
