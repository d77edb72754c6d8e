// What follows the training fraction (optim::training_frac) before each step, besides the LR:
// depth recurrence's switch (NUM_LOOPS with ENABLE_LOOPING_AT, the 1.0810 and later records: the
// banked GPT trains unlooped until the fraction reaches ENABLE_LOOPING_AT, then looped to the
// end; the warm-up runs both forms) and the Muon WD taper (WD_TAPER_*, PR #1729).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pgolf/train/session.h"

namespace pgolf::train {

// True once looping is due: the model has loops and frac >= enable_looping_at (0: from the
// first step). Pure; the switch never goes back.
bool looping_due(bool has_loops, double frac, double enable_looping_at);

// Sets the model's looping state. A change invalidates the step's captures (their forward is the
// other form; re-captured at the next step). Returns whether the state changed.
bool set_session_looping(Session& s, bool on, const std::string& why);

// Before optimiser step `step` + 1 (`step` completed) at `elapsed_ms` of training under the cap
// `cap_ms` (0: none): switches looping on when due, logging the record's "layer_loop:enabled
// step:N frac:F encoder:[...] decoder:[...]", and sets Muon's weight decay for the taper.
void apply_progress(Session& s, int64_t step, double elapsed_ms, double cap_ms);

// The forms the warm-up primes, in order: {false}, or {false, true} for a model with loops (the
// records warm up unlooped, then looped, and restore everything afterwards).
std::vector<bool> warmup_forms(const Session& s);

// "encoder:[0, 1, 2, 3, 4, 5, 3, 4] decoder:[5, 3, ...]" of a model with loops (the records' log
// lines); empty otherwise.
std::string layer_lists(Session& s);

// "[0, 1, 2, 3, 4, 5, 3, 4]", as Python prints the records' index lists.
std::string index_list(const std::vector<int64_t>& layers);

}  // namespace pgolf::train
