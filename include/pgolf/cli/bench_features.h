// `pgolf bench --features` (issue 19, "pgolf bench on CPU states what each new feature costs per
// step, relative to the PR #180 model at the same width"): the training step, as the loop runs it,
// of the configuration given (the PR #180 model: pgolf's defaults), of the banked GPT with no
// feature on, and of each frontier feature alone on that banked GPT (VE: on the PR #180 GPT, the
// only one that has it), at the configuration's shape (layers, width, heads, vocab).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pgolf/config/config.h"

namespace pgolf::cli {

struct FeatureVariant {
  std::string name;    // the printed line's key, e.g. "xsa"
  std::string knobs;   // what it sets, e.g. "XSA_LAST_N=11"
  std::string record;  // where the feature comes from
  config::Config cfg;
  bool looping = false;  // depth recurrence: the looped layer list active (as after the switch)
};

// The variants of a PR #180 configuration `pr180` (param_banks=0; an input error otherwise), in
// print order: "pr180", "banked", then one per feature. Pure: the knobs set follow the 11-layer
// records scaled to num_layers (XSA on all layers, RoPE on head_dim/4 dims, loops over layers
// (L-1)/3 .. +2, GPT-J from L-4, lanes from L-4 (lane_merge) / L-3 (routed), VE on the last two).
std::vector<FeatureVariant> feature_variants(const config::Config& pr180);

struct FeatureBenchArgs {
  int64_t seq_len = 0;        // 0: TRAIN_SEQ_LEN
  int64_t batch_seqs = 0;     // 0: the training run's rows per micro-batch
  int64_t micro_batches = 0;  // 0: the training run's
  int steps = 3;
  int warmup = 1;
  bool json = false;
  int rounds = 3;  // interleaved rounds over all variants; each variant keeps its best
};

// Times each variant's training step (train::make_step + train::run_step, random tokens), all
// variants built first, then `rounds` interleaved rounds of `steps` steps each (the best round
// kept), and prints one line per variant: CPU and wall ms/step, the ratio to "pr180" and the
// difference to "banked" (of CPU time on a CPU, of wall time on CUDA).
int run_feature_bench(const config::Config& pr180, const FeatureBenchArgs& args);

}  // namespace pgolf::cli
