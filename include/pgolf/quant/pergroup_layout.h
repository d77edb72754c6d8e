// Internals of the pergroup artifact shared by its writer, reader and tests: the role groups, the
// routing of result entries, and the torch.save remainder {"r", "m", "s"} (pergroup.h).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "pgolf/core/tensor_io.h"
#include "pgolf/quant/quantize.h"

namespace pgolf::quant {

// The record's _GROUP_ORDER; a leading '_' marks a top-level (not per-layer) tensor.
const std::vector<std::string>& group_order();
// The groups whose matrices are row-sorted (_SIMSORT_KEYS): tok_emb, attn.c_q, mlp.fc.
bool is_simsort_group(const std::string& key);

using Shapes = std::vector<std::vector<int64_t>>;
struct GroupedCodes {
  // group key -> (layer, int8 codes), layer order; only groups that have tensors.
  std::map<std::string, std::vector<std::pair<int64_t, torch::Tensor>>> groups;
  core::NamedTensors remainder;  // every other entry, name-sorted (the record's "r")
};
// Routes quant.w as the record does: int8 entries named blocks.<i>.<group> or <group minus '_'>.
GroupedCodes group_codes(const QuantResult& quant);

// torch.save({"r": remainder, "m": meta, "s": {group: [shape tuples]}}) bytes (group order).
std::vector<char> remainder_bytes(const QuantResult& quant, const GroupedCodes& g);

struct Remainder {
  core::NamedTensors r;
  Meta m;
  std::vector<std::pair<std::string, Shapes>> s;
};
// Parses those bytes (the record's or ours); structure errors name `what`.
Remainder parse_remainder(const std::vector<char>& bytes, const std::string& what);

}  // namespace pgolf::quant
