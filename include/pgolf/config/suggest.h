// "Did you mean" for misspelt names (issue 17 items 11 and 13): an edit distance, the closest of
// a list of names, and the rule that finds environment variables that look like pgolf knobs but
// are not one (NUM_LAYER=4 would otherwise change nothing and say nothing).
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace pgolf::config {

// Optimal string alignment distance: insertions, deletions, substitutions and transpositions of
// two neighbours each cost 1 (NUM_LAYRES -> NUM_LAYERS is 1).
size_t edit_distance(const std::string& a, const std::string& b);

// The candidate nearest to `word` within `max_distance` (the first on ties); "" when none is.
std::string closest_name(const std::string& word, const std::vector<std::string>& candidates,
                         size_t max_distance);
// The distance allowed for a word of this length: 1 below 8 characters, else 2.
size_t typo_distance(const std::string& word);

// One warning per environment variable that looks like a knob and is not one. A name looks like
// a knob when it is upper case ([A-Z0-9_], 3+ characters), is not a knob, is not another tool's
// (the prefixes and names in suggest.cpp: OMP_*, CUDA_*, NCCL_*, torchrun's RANK, WORLD_SIZE,
// MASTER_ADDR, ...; PGOLF_* are pgolf's own switches), and either is within typo_distance of a
// knob or starts with the prefix of a knob family (TTT_, MUON_, SWA_, ...: the first word shared
// by two or more knobs). Each warning names the closest knob when there is one.
std::vector<std::string> env_name_warnings(const std::map<std::string, std::string>& env);

}  // namespace pgolf::config
