// Layering (defaults < --config files in order < environment < CLI flags), strict parsing,
// validation and the dump. All problems are collected and reported at once as one input error.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "pgolf/config/config.h"

namespace pgolf::config {

struct Layers {
  std::vector<std::string> files;                            // --config paths, lowest first
  std::map<std::string, std::string> env;                    // environment (only known names used)
  std::vector<std::pair<std::string, std::string>> flags;    // leaf name -> raw value
};

struct Resolved {
  Config cfg;
  std::map<std::string, std::string> source;  // leaf name -> "default" | "file a.json" | "env X" | "flag --x"
};

// The process environment as a map.
std::map<std::string, std::string> process_env();

// Applies every layer onto `r` (which starts at the defaults); returns every unknown key and
// malformed value found.
std::vector<std::string> apply_layers(const Layers& layers, Resolved& r);
// apply_layers, then (when world_size > 0) validate(); throws pgolf::Error(kInput) listing every
// problem at once.
Resolved resolve(const Layers& layers, int world_size = 0);

// Cross-field checks for a run with `world_size` ranks; returns every violation (empty = fine).
std::vector<std::string> validate(const Config& cfg, int world_size);
// Throws pgolf::Error(kInput) with all violations when validate() finds any.
void check_valid(const Config& cfg, int world_size);

// Sectioned JSON of the values ({"model": {...}, ...}); readable again as a --config file.
nlohmann::json to_json(const Config& cfg);
// to_json plus "_sources": {leaf: source}. Keys starting with '_' are ignored when read back.
nlohmann::json dump(const Resolved& resolved);

// Strict parsers shared by env and flags; return false on malformed input.
bool parse_value(const std::string& text, int64_t& out);
bool parse_value(const std::string& text, double& out);
bool parse_value(const std::string& text, bool& out);
bool parse_value(const std::string& text, std::string& out);
// A choice knob: exactly one of the names in its table (choices.h).
template <class E, std::enable_if_t<is_choice_v<E>, int> = 0>
bool parse_value(const std::string& text, E& out) {
  return parse_choice(text, out);
}

// The --help text of a field: `help`, and for a choice knob every allowed value with its help from
// the one table, and the value `field` holds (the default when given the defaults).
template <class T>
std::string field_help(const T& field, const char* help) {
  if constexpr (is_choice_v<T>) {
    const std::string h = help;
    return h + (h.empty() ? "" : "; ") + "one of " + choice_help<T>() + " (default " +
           choice_name(field) + ")";
  } else {
    return help;
  }
}

std::string env_name(const std::string& leaf);   // num_kv_heads -> NUM_KV_HEADS
std::string flag_name(const std::string& leaf);  // num_kv_heads -> num-kv-heads

// 8 / world_size (the reference's grad_accum_steps); 0 when world_size does not divide 8.
int grad_accum_steps(int world_size);

// Split "a,b,c" into trimmed non-empty parts: the one rule for every comma-separated knob
// (INT_CATS, CONTROL_TENSOR_NAME_PATTERNS, FP16_KEEP_NAME_PATTERNS, GLOO_SOCKET_IFNAME), so
// validation, training, the optimiser, `pgolf info` and the export see the same entries.
std::vector<std::string> split_list(const std::string& text);

// Layer indices of a comma-separated knob (VE_LAYERS "9,10"), in split_list's entries: each an
// integer in 0..num_layers-1, none listed twice. Throws an input error naming `key`, the range and
// the entry found.
std::vector<int64_t> parse_layer_list(const std::string& key, const std::string& text,
                                      int64_t num_layers);

}  // namespace pgolf::config
