// `pgolf bench`: throughput of a configuration on this device. Times the loss forward (no grad)
// and forward+backward on random tokens of --batch-seqs x --seq-len under the DTYPE policy
// (bf16 autocast where the hardware has fast bf16), converts to achieved FLOP/s with
// model::flops_per_token, and relates it to a square matmul probe measured in the same run, in
// the compute dtype (the "ratio"): a practical MFU against what this device's GEMM attains, not
// against a datasheet peak. On CUDA also the peak allocated memory of the fwd+bwd step.
// Then a whole training step (issue #9 item 4): forward, backward, gradient all-reduce (ranks > 1,
// e.g. under torchrun), norm + clip (GRAD_CLIP_NORM > 0, as the loop) and each optimiser of the
// set (issue #16), each timed to a device sync, plus the same step
// without the intermediate syncs; its TFLOP/s, MFU against the measured bf16 GEMM, and (CUDA) the
// peak allocated memory of the step. The device is cuda:LOCAL_RANK with the training run's TF32,
// flash-SDPA and FUSED_KERNELS settings. The CUDA path is compiled, not yet run on a GPU.
#include <algorithm>
#include <chrono>
#include <iostream>

#include "pgolf/cli/commands.h"
#include "pgolf/cli/cuda_memory.h"
#include "pgolf/config/resolve.h"
#include "pgolf/core/error.h"
#include "pgolf/core/log.h"
#include "pgolf/core/runtime.h"
#include "pgolf/dist/comm.h"
#include "pgolf/model/fused.h"
#include "pgolf/model/dtype.h"
#include "pgolf/model/flops.h"
#include "pgolf/model/gpt.h"
#include "pgolf/model/params.h"
#include "pgolf/optim/optimizer_set.h"
#include "pgolf/optim/schedule.h"
#include "pgolf/train/device_setup.h"
#include "pgolf/train/grad_sync.h"

namespace pgolf::cli {
namespace {

using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

struct BenchArgs {
  ConfigOptions config;
  int64_t seq_len = 0;  // 0: TRAIN_SEQ_LEN
  int64_t batch_seqs = 4;
  int steps = 3;
  int warmup = 1;
  int64_t probe_size = 0;  // 0: 2048 on CPU, 8192 on CUDA
  bool json = false;
};

void sync(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

double seconds(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Mean seconds of `steps` calls of fn after `warmup` untimed calls.
template <typename F>
double time_steps(F&& fn, int warmup, int steps, const torch::Device& device) {
  for (int i = 0; i < warmup; ++i) fn();
  sync(device);
  const auto t0 = Clock::now();
  for (int i = 0; i < steps; ++i) fn();
  sync(device);
  return seconds(t0) / steps;
}

// FLOP/s of an n x n x n matmul in `dtype`: one warm-up, then repeats for at least 1 s (>= 2).
double matmul_probe(torch::ScalarType dtype, int64_t n, const torch::Device& device) {
  torch::NoGradGuard no_grad;
  const auto opts = torch::TensorOptions().dtype(dtype).device(device);
  const auto a = torch::randn({n, n}, opts), b = torch::randn({n, n}, opts);
  auto c = torch::matmul(a, b);
  sync(device);
  int iters = 0;
  const auto t0 = Clock::now();
  do {
    c = torch::matmul(a, b);
    ++iters;
    sync(device);
  } while (iters < 2 || seconds(t0) < 1.0);
  return 2.0 * static_cast<double>(n * n * n) * iters / seconds(t0);
}

Json phase(const char* name, double step_seconds, int64_t tokens, double flops_per_token,
           double probe) {
  const double flops = flops_per_token * static_cast<double>(tokens) / step_seconds;
  return {{"phase", name},
          {"step_seconds", step_seconds},
          {"tokens_per_second", static_cast<double>(tokens) / step_seconds},
          {"flops_per_second", flops},
          {"ratio_to_probe", flops / probe}};
}

// Mean seconds per phase of a training step, each phase ending in a device sync.
// `optimizers` splits `optimizer` by group in step order (tok, head, muon, scalar).
struct StepPhases {
  double forward = 0, backward = 0, all_reduce = 0, clip = 0, optimizer = 0;
  std::vector<std::pair<std::string, double>> optimizers;
  double sum() const { return forward + backward + all_reduce + clip + optimizer; }
};

struct StepRig {
  model::GPT& gpt;
  optim::OptimizerSet& opt;
  dist::Comm& comm;
  const torch::Tensor& ids;
  const torch::Tensor& targets;
  model::DtypePolicy policy;
  torch::Device device;
  double momentum;
  double clip_norm;  // GRAD_CLIP_NORM; the training loop's norm + clip when > 0
};

// One training step; with `phases` non-null, syncs after each phase and adds its seconds.
void train_step(StepRig& r, StepPhases* phases) {
  const auto params = r.gpt->parameters();
  auto t0 = Clock::now();
  const auto lap = [&](double* acc) {
    if (!phases) return;
    sync(r.device);
    *acc += seconds(t0);
    t0 = Clock::now();
  };
  r.opt.zero_grad();
  torch::Tensor loss;
  {
    model::ComputeScope scope(r.policy, r.device.type());
    loss = r.gpt->forward(r.ids, r.targets);
  }
  lap(phases ? &phases->forward : nullptr);
  loss.backward();
  lap(phases ? &phases->backward : nullptr);
  if (r.comm.world_size() > 1) {  // one rank: no all-reduce, the phase stays 0
    train::average_gradients(params, r.comm);
    lap(phases ? &phases->all_reduce : nullptr);
  }
  if (r.clip_norm > 0) {
    optim::clip_grad_norm(params, r.clip_norm);
    lap(phases ? &phases->clip : nullptr);
  }
  r.opt.set_schedule(1.0, r.momentum);
  if (!phases) {
    r.opt.step();
    return;
  }
  // The same step() order, timed per optimiser.
  if (phases->optimizers.empty())
    for (const char* label : {"tok", "head", "muon", "scalar"})
      if (r.opt.find(label)) phases->optimizers.emplace_back(label, 0.0);
  for (auto& [label, seconds] : phases->optimizers) {
    r.opt.find(label)->step();
    double t = 0;
    lap(&t);
    seconds += t;
    phases->optimizer += t;
  }
}

Json train_step_json(const StepPhases& ph, double step_seconds, int64_t tokens, double fwd_bwd_flops,
                     double probe_bf16, int world) {
  const double flops = fwd_bwd_flops * static_cast<double>(tokens) / step_seconds;
  Json by_group = Json::object();
  for (const auto& [label, seconds] : ph.optimizers) by_group[label] = seconds;
  return {{"world_size", world},
          {"forward_seconds", ph.forward},
          {"backward_seconds", ph.backward},
          {"all_reduce_seconds", ph.all_reduce},
          {"clip_seconds", ph.clip},
          {"optimizer_seconds", ph.optimizer},
          {"optimizer_seconds_by_group", by_group},
          {"sum_of_phases_seconds", ph.sum()},
          {"step_seconds", step_seconds},
          {"tokens_per_second", static_cast<double>(tokens) / step_seconds},
          {"tflops_per_second", flops / 1e12},
          {"mfu_vs_bf16_gemm", flops / probe_bf16}};
}

void print_human(const Json& j) {
  std::cout << "bench: " << j["device"].get<std::string>() << ", dtype "
            << j["dtype"].get<std::string>() << " (logits " << j["logits_dtype"].get<std::string>()
            << "), threads " << j["threads"].get<int>() << ", " << j["batch_seqs"].get<int64_t>()
            << " x " << j["seq_len"].get<int64_t>() << " = " << j["tokens_per_step"].get<int64_t>()
            << " tokens, " << j["steps"].get<int>() << " steps after " << j["warmup"].get<int>()
            << " warm-up\n";
  std::cout << core::format("model: %lld params, %.2f MFLOP/token forward, %.2f fwd+bwd\n",
                            j["params"].get<long long>(),
                            j["flops_per_token"]["forward"].get<double>() / 1e6,
                            j["flops_per_token"]["forward_backward"].get<double>() / 1e6);
  for (const auto& p : j["phases"])
    std::cout << core::format("%-9s %9.3f s/step %10.0f tokens/s %9.2f GFLOP/s  %.3f of probe\n",
                              p["phase"].get<std::string>().c_str(),
                              p["step_seconds"].get<double>(), p["tokens_per_second"].get<double>(),
                              p["flops_per_second"].get<double>() / 1e9,
                              p["ratio_to_probe"].get<double>());
  const auto& pr = j["matmul_probe"];
  std::cout << core::format(
      "matmul probe %lld^3: bf16 %.2f GFLOP/s, fp32 %.2f GFLOP/s (ratio uses %s)\n",
      pr["n"].get<long long>(), pr["bf16_flops_per_second"].get<double>() / 1e9,
      pr["fp32_flops_per_second"].get<double>() / 1e9,
      pr["ratio_dtype"].get<std::string>().c_str());
  const auto& ts = j["train_step"];
  std::cout << core::format(
      "train step (rank 1 of %d): forward %.4f s, backward %.4f s, all-reduce %.4f s, norm+clip "
      "%.4f s, optimiser %.4f s (sum %.4f s)\n",
      ts["world_size"].get<int>(), ts["forward_seconds"].get<double>(),
      ts["backward_seconds"].get<double>(), ts["all_reduce_seconds"].get<double>(),
      ts["clip_seconds"].get<double>(), ts["optimizer_seconds"].get<double>(),
      ts["sum_of_phases_seconds"].get<double>());
  std::cout << "  optimiser by group:";
  for (const auto& [label, seconds] : ts["optimizer_seconds_by_group"].items())
    std::cout << core::format(" %s %.4f s", label.c_str(), seconds.get<double>());
  std::cout << "\n";
  std::cout << core::format("train step without phase syncs: %.4f s, %.0f tokens/s, %.3f TFLOP/s, "
                            "MFU %.3f of the bf16 GEMM probe\n",
                            ts["step_seconds"].get<double>(), ts["tokens_per_second"].get<double>(),
                            ts["tflops_per_second"].get<double>(),
                            ts["mfu_vs_bf16_gemm"].get<double>());
  if (j.contains("cuda_peak_memory_train_step_bytes"))
    std::cout << "cuda peak allocated: "
              << j["cuda_peak_memory_train_step_bytes"].get<int64_t>() / (1 << 20)
              << " MiB (training step incl. optimiser state)\n";
  if (j.contains("cuda_peak_memory_bytes"))
    std::cout << "cuda peak allocated: " << j["cuda_peak_memory_bytes"].get<int64_t>() / (1 << 20)
              << " MiB (fwd+bwd)\n";
  std::cout << std::flush;
}

int run_bench(const BenchArgs& a) {
  const auto cfg = resolve_config(a.config, /*world_size=*/1).cfg;
  const int64_t T = a.seq_len > 0 ? a.seq_len : cfg.train.train_seq_len;
  PGOLF_CHECK_INPUT(
      T >= 1 && a.batch_seqs >= 1 && a.steps >= 1 && a.warmup >= 0,
      "bench: expected --seq-len >= 1, --batch-seqs >= 1, --steps >= 1, --warmup >= 0");
  const int threads = core::configure_threads(static_cast<int>(cfg.train.threads));
  const bool cuda = train::wants_cuda(cfg.train.device);
  // Under torchrun the all-reduce phase is real (one bench per rank; rank 0 prints).
  auto comm = dist::make_comm(cfg.train.dist_backend, cuda, cfg.train.dist_timeout_seconds);
  // The training run's device set-up (TF32, flash SDPA, fused kernels).
  const train::ComputeSetup compute = train::setup_compute(cfg.train, comm->local_rank());
  const torch::Device device = compute.device;
  const auto policy = compute.policy;

  torch::manual_seed(cfg.train.seed);
  model::GPT gpt(cfg.model);
  gpt->to(device);
  gpt->set_dtype_policy(policy);
  const auto opts = torch::TensorOptions().dtype(torch::kLong).device(device);
  const auto ids = torch::randint(0, cfg.model.vocab_size, {a.batch_seqs, T}, opts);
  const auto targets = torch::randint(0, cfg.model.vocab_size, {a.batch_seqs, T}, opts);
  const auto flops = model::flops_per_token(cfg.model, T);
  const int64_t tokens = a.batch_seqs * T;

  gpt->eval();
  const double fwd = time_steps(
      [&] {
        torch::NoGradGuard no_grad;
        model::ComputeScope scope(policy, device.type());
        gpt->forward(ids, targets);
      },
      a.warmup, a.steps, device);
  std::string logits_dtype;  // observed on a short input: bf16 when autocast is really active
  {
    torch::NoGradGuard no_grad;
    model::ComputeScope scope(policy, device.type());
    logits_dtype =
        c10::toString(gpt->forward_logits(ids.narrow(1, 0, std::min<int64_t>(T, 8))).scalar_type());
  }
  gpt->train();
  if (cuda) reset_cuda_peak_memory(device.index());
  const double fwd_bwd = time_steps(
      [&] {
        gpt->zero_grad();
        torch::Tensor loss;
        {
          model::ComputeScope scope(policy, device.type());
          loss = gpt->forward(ids, targets);
        }
        loss.backward();
      },
      a.warmup, a.steps, device);
  const int64_t fwd_bwd_peak = cuda ? cuda_peak_memory_bytes(device.index()) : -1;

  const int64_t n = a.probe_size > 0 ? a.probe_size : (cuda ? 8192 : 2048);
  const double probe_bf16 = matmul_probe(torch::kBFloat16, n, device);
  const double probe_fp32 = matmul_probe(torch::kFloat32, n, device);
  const bool bf16 = policy != model::DtypePolicy::kFp32;
  const double probe = bf16 ? probe_bf16 : probe_fp32;

  // The whole training step: phases to a sync each, then the same step without those syncs.
  const auto named = gpt->state_dict();
  optim::OptimizerSet opt(named, cfg.optim, config::split_list(cfg.quant.control_tensor_name_patterns),
                          comm.get());
  StepRig rig{gpt, opt, *comm, ids, targets, policy, device, cfg.optim.muon_momentum,
              cfg.optim.grad_clip_norm};
  if (cuda) reset_cuda_peak_memory(device.index());
  for (int i = 0; i < a.warmup; ++i) train_step(rig, nullptr);
  StepPhases ph;
  for (int i = 0; i < a.steps; ++i) train_step(rig, &ph);
  ph.forward /= a.steps;
  ph.backward /= a.steps;
  ph.all_reduce /= a.steps;
  ph.clip /= a.steps;
  ph.optimizer /= a.steps;
  for (auto& [label, seconds] : ph.optimizers) seconds /= a.steps;
  const double step_s = time_steps([&] { train_step(rig, nullptr); }, 0, a.steps, device);
  const int64_t step_peak = cuda ? cuda_peak_memory_bytes(device.index()) : -1;

  Json j;
  j["device"] = device.str();
  j["dtype"] = model::dtype_policy_name(policy);
  j["logits_dtype"] = logits_dtype;
  j["threads"] = threads;
  j["cpu_fast_bf16"] = model::cpu_has_fast_bf16();
  j["seq_len"] = T;
  j["batch_seqs"] = a.batch_seqs;
  j["tokens_per_step"] = tokens;
  j["steps"] = a.steps;
  j["warmup"] = a.warmup;
  j["params"] = model::count_params(*gpt);
  j["flops_per_token"] = {{"matmul_params", flops.matmul_params},
                          {"attention", flops.attention},
                          {"forward", flops.forward},
                          {"forward_backward", flops.forward_backward}};
  j["phases"] = Json::array({phase("forward", fwd, tokens, flops.forward, probe),
                             phase("fwd+bwd", fwd_bwd, tokens, flops.forward_backward, probe),
                             phase("step", step_s, tokens, flops.forward_backward, probe)});
  j["train_step"] =
      train_step_json(ph, step_s, tokens, flops.forward_backward, probe_bf16, comm->world_size());
  j["fused_kernels"] = model::fused::enabled() && model::fused::compiled();
  j["matmul_probe"] = {{"n", n},
                       {"bf16_flops_per_second", probe_bf16},
                       {"fp32_flops_per_second", probe_fp32},
                       {"ratio_dtype", bf16 ? "bf16" : "fp32"}};
  if (cuda) {
    j["cuda_step_seconds"] = fwd_bwd;
    j["cuda_peak_memory_bytes"] = fwd_bwd_peak;
    j["cuda_peak_memory_train_step_bytes"] = step_peak;
  }
  if (comm->rank() > 0) return kExitOk;
  if (a.json) {
    std::cout << j.dump(2) << std::endl;
  } else {
    print_human(j);
  }
  return kExitOk;
}

}  // namespace

Command register_bench(CLI::App& app) {
  auto* sub = app.add_subcommand("bench", "tokens/s, achieved FLOP/s and ratio to a matmul probe");
  auto a = std::make_shared<BenchArgs>();
  add_config_options(sub, a->config);
  sub->add_option("--seq-len", a->seq_len, "tokens per sequence (default: TRAIN_SEQ_LEN)");
  sub->add_option("--batch-seqs", a->batch_seqs, "sequences per step (default 4)");
  sub->add_option("--steps", a->steps, "timed steps per phase (default 3)");
  sub->add_option("--warmup", a->warmup, "untimed warm-up steps per phase (default 1)");
  sub->add_option("--probe-size", a->probe_size, "matmul probe n (default 2048 CPU, 8192 CUDA)");
  sub->add_flag("--json", a->json, "print JSON");
  return {sub, [a]() { return run_bench(*a); }};
}

}  // namespace pgolf::cli
