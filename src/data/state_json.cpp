// Checked loader-state reads and the micro-batch token count (state_json.h).
#include "pgolf/data/state_json.h"

#include "pgolf/core/error.h"

namespace pgolf::data {

void expect_kind(const nlohmann::json& s, const std::string& kind) {
  const bool has = s.is_object() && s.contains("kind") && s.at("kind").is_string();
  const std::string found = has ? s.at("kind").get<std::string>() : "stream (no \"kind\")";
  PGOLF_CHECK_INPUT(found == kind, "loader state was saved by LOADER=" << found
                                       << ", but this run has LOADER=" << kind
                                       << "; resume with the LOADER of the checkpoint");
}

int64_t get_int(const nlohmann::json& s, const std::string& key) {
  const bool present = s.is_object() && s.contains(key);
  PGOLF_CHECK_INPUT(present && s.at(key).is_number_integer(),
                    "loader state: expected an integer \"" << key << "\", found "
                        << (present ? s.at(key).type_name() : "none"));
  return s.at(key).get<int64_t>();
}

std::vector<int64_t> get_vector(const nlohmann::json& s, const std::string& key, size_t size) {
  const bool present = s.is_object() && s.contains(key) && s.at(key).is_array();
  PGOLF_CHECK_INPUT(present && s.at(key).size() == size,
                    "loader state: expected \"" << key << "\" as " << size << " integers, found "
                        << (present ? std::to_string(s.at(key).size()) + " entries" : "none"));
  std::vector<int64_t> out;
  for (const auto& v : s.at(key)) {
    PGOLF_CHECK_INPUT(v.is_number_integer(), "loader state: \"" << key << "\" holds " << v.dump());
    out.push_back(v.get<int64_t>());
  }
  return out;
}

void expect_value(const nlohmann::json& s, const std::string& key, int64_t want,
                  const std::string& what) {
  const int64_t found = get_int(s, key);
  PGOLF_CHECK_INPUT(found == want, "loader state was saved for " << found << " " << what
                                                                << ", but this run has " << want);
}

int64_t local_tokens(int64_t global_tokens, int64_t seq_len, int64_t grad_accum_steps,
                     int world_size, bool multiple_of_seq_len) {
  PGOLF_CHECK_INPUT(global_tokens > 0 && seq_len > 0 && grad_accum_steps > 0,
                    "next_batch: global_tokens " << global_tokens << ", seq_len " << seq_len
                                                 << ", grad_accum_steps " << grad_accum_steps
                                                 << " must all be positive");
  const int64_t local = global_tokens / (world_size * grad_accum_steps);
  PGOLF_CHECK_INPUT(local > 0 && (!multiple_of_seq_len || local % seq_len == 0),
                    "next_batch: " << global_tokens << " tokens / (world_size " << world_size
                                   << " * grad_accum_steps " << grad_accum_steps << ") = " << local
                                   << " tokens per rank, expected a positive "
                                   << (multiple_of_seq_len ? "multiple of seq_len " : "count; seq_len ")
                                   << seq_len);
  return local;
}

}  // namespace pgolf::data
