// Byte sidecars (the CaseOps records' fineweb_val_bytes_NNNNNN.bin): a shard-format file (same
// header, one uint16 per token) beside each val token shard, giving each token's original UTF-8
// byte count (0 for BOS and for CaseOps operators). Where the val split has them, bits per byte
// divide by their sum instead of the SentencePiece byte tables (the tokens no longer spell the
// original text byte for byte).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace pgolf::data {

// True for a sidecar file name (the base name holds "_bytes_", the record's own filter): such a
// file is never a token shard, whatever glob matched it.
bool is_byte_sidecar(const std::string& path);

// The sidecar beside a token shard: <dir>/<stem>_<digits>.bin -> <dir>/<stem>_bytes_<digits>.bin
// (fineweb_val_000003.bin -> fineweb_val_bytes_000003.bin); "" when the name has no such index.
std::string sidecar_path_for(const std::string& token_shard);

// The sidecars of `token_files` (the val shards, in order): empty when none of them has one;
// otherwise one per shard, each checked to exist and to hold as many entries as its token shard.
// A partial set or a count mismatch is an input error naming the file, expected and found.
std::vector<std::string> find_byte_sidecars(const std::vector<std::string>& token_files);

// The val split's per-token original byte counts, for bpb: the sidecars of `token_files`
// concatenated and cut to the first `count` entries (count = load_validation_tokens(...).numel(),
// so entry i belongs to token i and a target y_t = tokens[t+1] has bytes[t+1]). (count,) int32 on
// the CPU; an undefined tensor when the split has no sidecars (bpb then comes from the byte LUTs).
torch::Tensor load_val_bytes(const std::vector<std::string>& token_files, int64_t count);

// Writes a sidecar (shard format); a count above 65535 is an input error naming the file/token.
void write_byte_sidecar(const std::string& path, const std::vector<int64_t>& counts);

}  // namespace pgolf::data
