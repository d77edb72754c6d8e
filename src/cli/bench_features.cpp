// `pgolf bench --features` (see bench_features.h): one training step timing per frontier feature.
#include "pgolf/cli/bench_features.h"

#include <algorithm>
#include <ctime>
#include <memory>
#include <iostream>

#include "pgolf/cli/bench_step.h"
#include "pgolf/cli/commands.h"
#include "pgolf/config/names.h"
#include "pgolf/config/resolve.h"
#include "pgolf/core/error.h"
#include "pgolf/core/log.h"
#include "pgolf/core/runtime.h"
#include "pgolf/dist/comm.h"
#include "pgolf/model/any_gpt.h"
#include "pgolf/model/dtype.h"
#include "pgolf/optim/optimizer_set.h"
#include "pgolf/train/device_setup.h"
#include "pgolf/train/step.h"

namespace pgolf::cli {
namespace {

using FeatJson = nlohmann::ordered_json;

// The banked GPT with no feature on, as the records' banked stack needs it: no BigramHash or old
// SmearGate, LeakyReLU(0.5)^2, banked Muon; its gates and lane tensors in the scalar group (the
// 1.0611 preset's control patterns).
config::Config banked_base(const config::Config& pr180) {
  config::Config b = pr180;
  b.model.param_banks = true;
  b.model.bigram_vocab_size = 0;
  b.model.smear_gate = false;
  b.model.activation = config::Activation::kLeakyRelu2;
  b.optim.muon_form = config::MuonForm::kBanked;
  b.quant.control_tensor_name_patterns +=
      ",skip_gates,parallel_post_lambdas,parallel_resid_lambdas,lane_merge,attn_gate_proj,"
      "attn_gate_w,smear_gate,smear_lambda";
  return b;
}

FeatureVariant variant(const char* name, const std::string& knobs, const char* record,
                       config::Config cfg) {
  return {name, knobs, record, std::move(cfg), false};
}

// Value embeddings exist on the PR #180 GPT only: on the last two layers of the baseline.
FeatureVariant ve_variant(const config::Config& pr180) {
  config::Config ve = pr180;
  const int64_t L = pr180.model.num_layers;
  ve.model.ve_enabled = true;
  ve.model.ve_layers = L >= 2 ? std::to_string(L - 2) + "," + std::to_string(L - 1) : "0";
  return variant("ve", "VE_ENABLED=1 VE_LAYERS=" + ve.model.ve_layers + " (on pr180)", "PR #374",
                 ve);
}

}  // namespace

std::vector<FeatureVariant> feature_variants(const config::Config& pr180) {
  PGOLF_CHECK_INPUT(!pr180.model.param_banks,
                    "bench --features: the baseline is the PR #180 model (param_banks=0), found "
                    "param_banks=1; pass its shape (e.g. --num-layers) on pgolf's defaults");
  const auto& m = pr180.model;
  const int64_t L = m.num_layers, head_dim = m.model_dim / std::max<int64_t>(m.num_heads, 1);
  const auto s = [](int64_t v) { return std::to_string(v); };
  const config::Config base = banked_base(pr180);
  std::vector<FeatureVariant> out{variant("pr180", "(the configuration given)", "PR #180", pr180),
                                  variant("banked", "PARAM_BANKS=1 MUON_FORM=banked",
                                          "PR #399 / 1.0611", base)};
  const auto add = [&](const char* name, const std::string& knobs, const char* record,
                       const auto& set) {
    config::Config c = base;
    set(c);
    out.push_back(variant(name, knobs, record, std::move(c)));
  };
  add("xsa", "XSA_LAST_N=" + s(L), "PR #287, all layers #1019", [&](auto& c) { c.model.xsa_last_n = L; });
  const int64_t rope = std::max<int64_t>(2, head_dim / 4 / 2 * 2);  // 16 of 64
  add("partial_rope", "ROPE_DIMS=" + s(rope), "PR #315", [&](auto& c) { c.model.rope_dims = rope; });
  add("ln_scale", "LN_SCALE=1", "PR #315", [](auto& c) { c.model.ln_scale = true; });
  add("skip_gates", "SKIP_GATES_ENABLED=1", "PR #1218",
      [](auto& c) { c.model.skip_gates_enabled = true; });
  const int64_t ls = (L - 1) / 3, le = std::min<int64_t>(L - 1, ls + 2);  // 3..5 of 11
  add("depth_recurrence", "NUM_LOOPS=2 LOOP_START=" + s(ls) + " LOOP_END=" + s(le) + " (looping on)",
      "PR #1493", [&](auto& c) {
        c.model.num_loops = 2;
        c.model.loop_start = ls;
        c.model.loop_end = le;
      });
  out.back().looping = true;
  const int64_t from4 = std::max<int64_t>(1, L - 4), from3 = std::max<int64_t>(1, L - 3);
  add("parallel_gptj", "PARALLEL_RESIDUAL_START=" + s(from4) + " PARALLEL_LANES=none",
      "PR #1412, #1493", [&](auto& c) {
        c.model.parallel_residual_start = from4;
        c.model.parallel_lanes = config::ParallelLanes::kNone;
      });
  add("parallel_lane_merge", "PARALLEL_START_LAYER=" + s(from4) + " PARALLEL_LANES=lane_merge",
      "PR #1334, #1477", [&](auto& c) {
        c.model.parallel_start_layer = from4;
        c.model.parallel_lanes = config::ParallelLanes::kLaneMerge;
      });
  add("parallel_routed", "PARALLEL_START_LAYER=" + s(from3), "PR #1204, 1.0611",
      [&](auto& c) { c.model.parallel_start_layer = from3; });
  add("smear_gate_v2", "SMEAR_GATE_ENABLED=1", "PR #1667, BOS fix #1851",
      [](auto& c) { c.model.smear_gate_enabled = true; });
  add("attn_out_gate", "ATTN_OUT_GATE_ENABLED=1", "PR #1667",
      [](auto& c) { c.model.attn_out_gate_enabled = true; });
  add("gated_attn", "GATED_ATTN_ENABLED=1", "PR #1736", [](auto& c) { c.model.gated_attn_enabled = true; });
  add("sparse_attn_gate", "SPARSE_ATTN_GATE_ENABLED=1", "PR #1787",
      [](auto& c) { c.model.sparse_attn_gate_enabled = true; });
  add("polar_express", "MUON_NS_COEFFS=polar_express", "PR #1787",
      [](auto& c) { c.optim.muon_ns_coeffs = config::MuonNsCoeffs::kPolarExpress; });
  add("row_normalize", "MUON_ROW_NORMALIZE=1", "PR #1334 (MuonEq-R)",
      [](auto& c) { c.optim.muon_row_normalize = true; });
  out.push_back(ve_variant(pr180));
  return out;
}

namespace {

struct FeatureShape {
  int64_t T = 0, rows = 0, micro = 0;
};

struct StepTimes {
  double wall = 0, cpu = 0;  // mean seconds per step: wall clock, and this process's CPU time
};

// One variant's model, optimiser and training step, built once and timed in every round.
struct PreparedFeature {
  model::AnyGPT gpt;
  std::unique_ptr<optim::OptimizerSet> opt;
  std::unique_ptr<train::Step> step;
  std::unique_ptr<bench::StepBench> sb;
  StepTimes best;  // the round with the least CPU time (CPU) or wall time (CUDA)
};

std::unique_ptr<PreparedFeature> prepare_feature(const FeatureVariant& v, const FeatureShape& sh,
                                                 const train::ComputeSetup& compute,
                                                 dist::Comm& comm) {
  const auto& cfg = v.cfg;
  torch::manual_seed(cfg.train.seed);
  auto f = std::make_unique<PreparedFeature>(PreparedFeature{model::AnyGPT(cfg.model), {}, {}, {}, {}});
  auto& gpt = f->gpt;
  gpt->to(compute.device);
  gpt->set_dtype_policy(compute.policy);
  gpt->set_looping(v.looping);
  gpt->train();
  f->opt = std::make_unique<optim::OptimizerSet>(
      gpt->state_dict(), cfg.optim, config::split_list(cfg.quant.control_tensor_name_patterns), &comm);
  f->step = train::make_step(
      train::StepParts{gpt, f->opt.get(), nullptr, &comm, compute.device, compute.policy,
                       gpt->parameters()},
      train::step_options(cfg), [](const std::string& l) { std::cerr << l << std::endl; });
  f->sb = std::make_unique<bench::StepBench>(bench::StepBench{
      *f->step, comm, bench::random_batches(sh.micro, sh.rows, sh.T, cfg.model.vocab_size),
      compute.device, cfg.optim.muon_momentum});
  return f;
}

// `steps` training steps of f after `warmup` untimed ones. The CPU time (std::clock) is what a CPU
// run costs even when other jobs share the cores; the wall time is not.
StepTimes time_feature(PreparedFeature& f, int warmup, int steps, const torch::Device& device) {
  for (int i = 0; i < warmup; ++i) bench::whole_step(*f.sb);
  bench::sync(device);
  const std::clock_t c0 = std::clock();
  const auto t0 = bench::Clock::now();
  for (int i = 0; i < steps; ++i) bench::whole_step(*f.sb);
  bench::sync(device);
  return {bench::seconds(t0) / steps, static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC / steps};
}

// The basis of the ratios: this process's CPU time on a CPU (robust to other jobs on the box),
// wall time on CUDA.
double basis_seconds(const StepTimes& t, bool by_cpu) { return by_cpu ? t.cpu : t.wall; }

// Rounds interleave the variants, so a burst of load hits all of them; each keeps its best round.
void time_rounds(std::vector<std::unique_ptr<PreparedFeature>>& prepared, const FeatureBenchArgs& a,
                 const torch::Device& device, bool by_cpu) {
  for (int r = 0; r < a.rounds; ++r)
    for (auto& f : prepared) {
      const StepTimes t = time_feature(*f, r == 0 ? a.warmup : 0, a.steps, device);
      if (r == 0 || basis_seconds(t, by_cpu) < basis_seconds(f->best, by_cpu)) f->best = t;
    }
}

FeatJson features_json(const std::vector<FeatureVariant>& variants,
                       const std::vector<std::unique_ptr<PreparedFeature>>& prepared, bool by_cpu) {
  const double base = basis_seconds(prepared[0]->best, by_cpu);
  const double banked = basis_seconds(prepared[1]->best, by_cpu);
  FeatJson out = FeatJson::array();
  for (size_t i = 0; i < variants.size(); ++i) {
    const StepTimes& t = prepared[i]->best;
    out.push_back({{"feature", variants[i].name},
                   {"knobs", variants[i].knobs},
                   {"record", variants[i].record},
                   {"step_seconds", t.wall},
                   {"cpu_seconds", t.cpu},
                   {"ratio_to_pr180", basis_seconds(t, by_cpu) / base},
                   {"ms_over_banked", (basis_seconds(t, by_cpu) - banked) * 1e3}});
  }
  return out;
}

void print_feature_table(const FeatJson& j) {
  std::cout << "bench --features: " << j["device"].get<std::string>() << ", dtype "
            << j["dtype"].get<std::string>() << ", threads " << j["threads"].get<int>() << ", "
            << j["micro_batches"].get<int64_t>() << " x " << j["batch_seqs"].get<int64_t>() << " x "
            << j["seq_len"].get<int64_t>() << " tokens per step, " << j["steps"].get<int>()
            << " steps after " << j["warmup"].get<int>() << " warm-up, best of "
            << j["rounds"].get<int>() << " interleaved rounds; ratios of "
            << j["ratio_basis"].get<std::string>() << " time (noisy on a busy box)\n";
  std::cout << core::format("%-20s %9s %9s %8s %10s  %s\n", "feature", "cpu ms", "wall ms",
                            "x pr180", "vs banked", "knobs (record)");
  for (const auto& f : j["features"])
    std::cout << core::format("%-20s %9.1f %9.1f %8.3f %+10.1f  %s (%s)\n",
                              f["feature"].get<std::string>().c_str(),
                              f["cpu_seconds"].get<double>() * 1e3,
                              f["step_seconds"].get<double>() * 1e3,
                              f["ratio_to_pr180"].get<double>(), f["ms_over_banked"].get<double>(),
                              f["knobs"].get<std::string>().c_str(),
                              f["record"].get<std::string>().c_str());
  std::cout << std::flush;
}

}  // namespace

int run_feature_bench(const config::Config& pr180, const FeatureBenchArgs& a) {
  const auto variants = feature_variants(pr180);
  for (const auto& v : variants) {
    const auto errs = config::validate(v.cfg, 1);
    PGOLF_CHECK_INPUT(errs.empty(), "bench --features: variant " << v.name << " (" << v.knobs
                                                                 << ") is invalid: " << errs.front());
  }
  PGOLF_CHECK_INPUT(a.seq_len >= 0 && a.batch_seqs >= 0 && a.micro_batches >= 0 && a.steps >= 1 &&
                        a.warmup >= 0 && a.rounds >= 1,
                    "bench --features: expected --seq-len, --batch-seqs, --micro-batches >= 0, "
                    "--steps >= 1, --warmup >= 0, --rounds >= 1");
  const int threads = core::configure_threads(static_cast<int>(pr180.train.threads));
  auto comm = dist::make_comm(pr180.train.dist_backend, train::wants_cuda(pr180.train.device),
                              pr180.train.dist_timeout_seconds);
  PGOLF_CHECK_INPUT(comm->world_size() == 1, "bench --features runs on one rank (no torchrun)");
  const train::ComputeSetup compute = train::setup_compute(pr180.train, comm->local_rank());
  FeatureShape sh;
  sh.T = a.seq_len > 0 ? a.seq_len : pr180.train.train_seq_len;
  sh.micro = a.micro_batches > 0 ? a.micro_batches : config::grad_accum_steps(1);
  sh.rows = a.batch_seqs > 0 ? a.batch_seqs : pr180.train.train_batch_tokens / sh.micro / sh.T;
  PGOLF_CHECK_INPUT(sh.rows >= 1, "bench --features: no row per micro-batch; pass --batch-seqs");
  FeatJson j;
  j["device"] = compute.device.str();
  j["dtype"] = model::dtype_policy_name(compute.policy);
  j["threads"] = threads;
  j["seq_len"] = sh.T;
  j["batch_seqs"] = sh.rows;
  j["micro_batches"] = sh.micro;
  j["steps"] = a.steps;
  j["warmup"] = a.warmup;
  j["rounds"] = a.rounds;
  const bool by_cpu = !compute.device.is_cuda();
  std::vector<std::unique_ptr<PreparedFeature>> prepared;
  for (const auto& v : variants) prepared.push_back(prepare_feature(v, sh, compute, *comm));
  time_rounds(prepared, a, compute.device, by_cpu);
  j["ratio_basis"] = by_cpu ? "cpu" : "wall";
  j["features"] = features_json(variants, prepared, by_cpu);
  if (a.json) {
    std::cout << j.dump(2) << std::endl;
  } else {
    print_feature_table(j);
  }
  return kExitOk;
}

}  // namespace pgolf::cli
