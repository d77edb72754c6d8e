// GPTQ calibration of a trained model (see calibration.h).
#include "pgolf/train/calibration.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>

#include "pgolf/core/error.h"
#include "pgolf/core/log.h"
#include "pgolf/data/train_loader.h"
#include "pgolf/quant/gptq_mixed.h"
#include "pgolf/quant/hessians.h"

namespace pgolf::train {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The tensors GPTQ quantises, by unbanked name (the calibration targets).
core::NamedTensors gptq_targets(const core::NamedTensors& state_dict,
                                const config::QuantConfig& q) {
  const auto flat = quant::is_banked(state_dict) ? quant::unbank_state_dict(state_dict) : state_dict;
  core::NamedTensors out;
  for (const auto& name : quant::gptq_weight_names(flat, q))
    out.emplace_back(name, *core::find_tensor(flat, name));
  return out;
}

// Restores the module's training flag on scope exit (calibration runs in eval mode).
class EvalScope {
 public:
  explicit EvalScope(torch::nn::Module& m) : m_(m), was_training_(m.is_training()) { m_.eval(); }
  ~EvalScope() { m_.train(was_training_); }
  EvalScope(const EvalScope&) = delete;
  EvalScope& operator=(const EvalScope&) = delete;

 private:
  torch::nn::Module& m_;
  bool was_training_;
};

}  // namespace

torch::Tensor generate_calibration_tokens(const CalibLogitsFn& logits, int64_t vocab, int64_t n,
                                          int64_t seq_len, double temperature, int64_t batch,
                                          uint64_t seed, torch::Device device) {
  PGOLF_CHECK_INPUT(n >= 1 && seq_len >= 1 && batch >= 1 && vocab >= 1 && temperature > 0,
                    "AR calibration: expected n, seq_len, batch, vocab >= 1 and temperature > 0");
  torch::NoGradGuard no_grad;
  auto gen = at::detail::createCPUGenerator(seed);
  std::vector<torch::Tensor> out;
  for (int64_t start = 0; start < n; start += batch) {
    const int64_t bs = std::min(batch, n - start);
    auto tokens = torch::randint(0, vocab, {bs, 1}, gen, torch::kInt64);  // (bs,1) CPU
    for (int64_t pos = 0; pos + 1 < seq_len; ++pos) {
      const auto z = logits(tokens.to(device));                              // (bs,t,V)
      const auto last = z.select(1, z.size(1) - 1).to(torch::kCPU, torch::kFloat32);
      const auto probs = torch::softmax(last / temperature, -1);
      tokens = torch::cat({tokens, torch::multinomial(probs, 1, /*replacement=*/false, gen)}, 1);
    }
    out.push_back(tokens);
  }
  return torch::cat(out, 0);
}

core::NamedTensors calibrate_gptq(torch::nn::Module& module, const CalibLogitsFn& logits,
                                  const core::NamedTensors& state_dict, const config::Config& cfg,
                                  const CalibrationSetup& setup, CalibrationReport* report) {
  const auto& q = cfg.quant;
  const int64_t seq_len = cfg.train.train_seq_len;
  const auto targets = gptq_targets(state_dict, q);
  EvalScope eval_mode(module);
  CalibrationReport rep;
  rep.ar_selfgen = q.gptq_ar_selfgen;
  std::function<torch::Tensor(int64_t)> batch;
  torch::Tensor ar_tokens;
  std::unique_ptr<data::TrainLoader> loader;
  if (q.gptq_ar_selfgen) {
    const auto t0 = std::chrono::steady_clock::now();
    ar_tokens = generate_calibration_tokens(logits, cfg.model.vocab_size, q.gptq_calib_samples,
                                            seq_len, q.gptq_temperature, q.gptq_batch_size,
                                            static_cast<uint64_t>(cfg.train.seed), setup.device);
    rep.generate_seconds = seconds_since(t0);
    rep.forwards = rep.sequences = q.gptq_calib_samples;
    rep.tokens = rep.sequences * std::max<int64_t>(seq_len - 1, 1);
    // The record's per-sequence forward on seq[:, :-1] (one token for seq_len 1).
    batch = [&](int64_t i) {
      return ar_tokens[i].narrow(0, 0, std::max<int64_t>(seq_len - 1, 1)).unsqueeze(0).to(setup.device);
    };
  } else {
    // The record's fresh ShuffledSequenceLoader on rank 0's shards and its micro-batch size.
    data::TrainLoaderOptions lo;
    lo.kind = config::Loader::kShuffled;
    lo.world_size = setup.world_size;
    lo.vocab_size = cfg.model.vocab_size;
    loader = data::make_train_loader(setup.train_files, lo);
    rep.forwards = q.gptq_calibration_batches;
    batch = [&](int64_t) {
      auto x = loader->next_batch(cfg.train.train_batch_tokens, seq_len, setup.grad_accum).first;
      rep.sequences += x.size(0);
      rep.tokens += x.numel();
      return x.to(setup.device);
    };
  }
  const auto t1 = std::chrono::steady_clock::now();
  auto hessians = quant::collect_hessians(
      module, [&](const torch::Tensor& ids) { logits(ids); }, batch, rep.forwards, targets,
      &rep.identity);
  if (setup.device.is_cuda()) torch::cuda::synchronize();
  rep.collect_seconds = seconds_since(t1);
  rep.hessians = static_cast<int64_t>(hessians.size());
  if (report) *report = rep;
  return hessians;
}

std::vector<std::string> calibration_lines(const CalibrationReport& r, double train_ms,
                                           double max_wallclock_seconds) {
  using core::format;
  std::vector<std::string> lines;
  if (r.ar_selfgen)
    lines.push_back(format("gptq:generated %lld sequences in %.1fs",
                           static_cast<long long>(r.sequences), r.generate_seconds));
  // The records' lines; `pgolf record check` reads the training-data one as training time.
  if (r.ar_selfgen)
    lines.push_back(format("gptq:collected hessians for %lld layers (AR self-gen)",
                           static_cast<long long>(r.hessians)));
  else
    lines.push_back(format("GPTQ:collected %lld Hessians in %.1fs",
                           static_cast<long long>(r.hessians), r.collect_seconds));
  std::string line = format(
      "gptq_calibration: source:%s forwards:%lld sequences:%lld tokens:%lld collect:%.3fs",
      r.ar_selfgen ? "ar_selfgen" : "train", static_cast<long long>(r.forwards),
      static_cast<long long>(r.sequences), static_cast<long long>(r.tokens), r.collect_seconds);
  if (r.ar_selfgen) line += format(" generate:%.3fs", r.generate_seconds);
  if (!r.ar_selfgen && train_ms >= 0) {
    // What the rules count: the training loop plus the calibration that reads training data.
    line += format(" train_time:%.0fms calibration_end:%.0fms", train_ms,
                   train_ms + 1000.0 * r.collect_seconds);
    if (max_wallclock_seconds > 0) line += format(" cap:%.0fms", 1000.0 * max_wallclock_seconds);
  }
  lines.push_back(line);
  if (!r.identity.empty()) {
    std::string names;
    for (const auto& n : r.identity) names += (names.empty() ? "" : ",") + n;
    lines.push_back("gptq_calibration: identity Hessian (lookup tables): " + names);
  }
  return lines;
}

}  // namespace pgolf::train
