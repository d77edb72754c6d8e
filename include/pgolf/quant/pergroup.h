// COMPRESSOR=pergroup: the 1.0611 record's _serialize_pergroup / _deserialize_pergroup layout.
//   "PGRP" | u32 n | n x u32 stream sizes | streams (little-endian), n = 9:
//   streams 0..6: one per code group, in the order _tok_emb.weight.q, attn.c_k, attn.c_q, attn.c_v,
//     attn.proj, mlp.fc, mlp.proj (.weight.q): the group's int8 codes of every layer (layer order),
//     each matrix's rows reordered by similarity_sort_l1 (tok_emb, c_q, fc only), transposed,
//     concatenated, then `lrzip -z -L 9`; empty when no tensor has that role;
//   stream 7: brotli(q 11, lgwin 24) of torch.save({"r": every other entry (name-sorted),
//     "m": meta, "s": {group: [shape tuples]}});
//   stream 8: brotli(q 11) of the concatenated uint16 row orders (empty when none).
// lrzip is Debian's `lrzip` program, run as a subprocess in a private temporary folder.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "pgolf/quant/quantize.h"

namespace pgolf::quant {

// Greedy nearest-neighbour row order by L1 distance: start at row 0, repeatedly append the unused
// row closest to the last one (ties: lowest index). codes: int8 (n, c), n <= 65536.
std::vector<uint16_t> similarity_sort_l1(const torch::Tensor& codes);

// Path of the lrzip program on PATH; an error naming it (and the Debian package) if absent.
std::string lrzip_program();
// `lrzip -z -L 9` / `lrzip -d` of a byte string (via files in a temporary folder).
std::vector<char> lrzip_compress(const std::vector<char>& data);
std::vector<char> lrzip_decompress(const std::vector<char>& data, const std::string& what);

bool is_pergroup(const std::vector<char>& blob);  // starts with "PGRP"
std::vector<char> pack_streams(const std::vector<std::vector<char>>& streams);
std::vector<std::vector<char>> unpack_streams(const std::vector<char>& blob,
                                              const std::string& what);

// The artifact bytes; `stream_bytes` (optional) receives the 9 stream sizes.
std::vector<char> serialize_pergroup(const QuantResult& quant,
                                     std::vector<int64_t>* stream_bytes = nullptr);
// Reads such bytes (ours or the record's): the same entries and meta. Every size, shape and
// permutation is validated; problems are input errors naming `what`.
QuantResult deserialize_pergroup(const std::vector<char>& blob, const std::string& what);

}  // namespace pgolf::quant
