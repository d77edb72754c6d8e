// Checked reads of a loader's JSON state (train_loader.h) and the per-rank token count shared by
// the loader kinds; every failure is an input error naming the key, expected and found.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pgolf::data {

void expect_kind(const nlohmann::json& state, const std::string& kind);
int64_t get_int(const nlohmann::json& state, const std::string& key);
// The integer array `key` of exactly `size` entries.
std::vector<int64_t> get_vector(const nlohmann::json& state, const std::string& key, size_t size);
// get_int(state, key) == want, else "loader state was saved for <found> <what>, now <want>".
void expect_value(const nlohmann::json& state, const std::string& key, int64_t want,
                  const std::string& what);

// Tokens of one rank's micro-batch: global_tokens / (world_size * grad_accum_steps), positive
// and (multiple_of_seq_len) a multiple of seq_len.
int64_t local_tokens(int64_t global_tokens, int64_t seq_len, int64_t grad_accum_steps,
                     int world_size, bool multiple_of_seq_len = true);

}  // namespace pgolf::data
