// `pgolf bench`: throughput of a configuration on this device. Times the loss forward (no grad)
// and forward+backward of one micro-batch (random tokens, --batch-seqs x --seq-len) under the
// DTYPE policy (bf16 autocast where the hardware has fast bf16), converts to achieved FLOP/s with
// model::flops_per_token, and relates it to a square matmul probe measured in the same run, in
// the compute dtype (the "ratio"): a practical MFU against what this device's GEMM attains, not
// against a datasheet peak. On CUDA also the peak allocated memory of the fwd+bwd step.
// Then the training step itself (issue #18): the train::Step object `pgolf train` runs, made by
// the same train::make_step (accumulation over the run's micro-batches, clipping, the overlapped
// gradient sync under torchrun, CUDA graphs with CUDA_GRAPHS=1), timed as forward_backward and
// update to a device sync each, then as train::run_step (the loop's call, with its one exchange)
// without extra syncs; its TFLOP/s, MFU against the measured bf16 GEMM, the per-step counters and
// (CUDA) the peak allocated memory. The device is cuda:LOCAL_RANK with the training run's TF32,
// flash-SDPA and FUSED_KERNELS settings. The CUDA path is compiled, not yet run on a GPU.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <iostream>

#include "pgolf/cli/bench_features.h"
#include "pgolf/cli/bench_profile.h"
#include "pgolf/cli/bench_step.h"
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
#include "pgolf/model/any_gpt.h"
#include "pgolf/model/params.h"
#include "pgolf/optim/optimizer_set.h"
#include "pgolf/optim/schedule.h"
#include "pgolf/train/device_setup.h"
#include "pgolf/train/grad_sync.h"
#include "pgolf/train/step.h"

namespace pgolf::cli {
namespace {

using Json = nlohmann::ordered_json;
using bench::Clock;
using bench::random_batches;
using bench::seconds;
using bench::StepBench;
using bench::step_input;
using bench::sync;
using bench::time_steps;
using bench::whole_step;

struct BenchArgs {
  ConfigOptions config;
  int64_t seq_len = 0;  // 0: TRAIN_SEQ_LEN
  int64_t batch_seqs = 0;     // rows per micro-batch; 0: TRAIN_BATCH_TOKENS / (world * micro) / T
  int64_t micro_batches = 0;  // 0: the training run's grad_accum_steps (8 / WORLD_SIZE)
  int steps = 3;
  int warmup = 1;
  int64_t probe_size = 0;  // 0: 2048 on CPU, 8192 on CUDA
  bool json = false;
  std::string profile;    // --profile FILE: Kineto trace of the whole-step phase
  bool features = false;  // --features: ms/step of each issue-19 feature (bench_features.h)
  int rounds = 3;         // --rounds (--features only)
};

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

// The training step `pgolf train` runs (train::make_step: the same accumulation, clipping,
// gradient sync and CUDA graphs), timed two ways: forward_backward and update each to a device
// sync, then train::run_step as the loop calls it (with its one exchange), without extra syncs.
struct StepPhases {
  double forward_backward = 0, update = 0;
  double sum() const { return forward_backward + update; }
};

void timed_phases(StepBench& b, StepPhases& ph) {
  auto t0 = Clock::now();
  b.step.forward_backward(step_input(b));
  sync(b.device);
  ph.forward_backward += seconds(t0);
  t0 = Clock::now();
  b.step.update(1.0, b.momentum);
  sync(b.device);
  ph.update += seconds(t0);
}

Json train_step_json(train::Step& step, const StepPhases& ph, double step_seconds, int64_t micro,
                     int64_t rows, int64_t tokens, double fwd_bwd_flops, double probe_bf16,
                     int world) {
  const double flops = fwd_bwd_flops * static_cast<double>(tokens) / step_seconds;
  const train::StepCounters& c = step.counters();
  const double n = static_cast<double>(std::max<int64_t>(c.steps, 1));
  return {{"step", step.describe()},
          {"micro_batches", micro},
          {"rows_per_micro_batch", rows},
          {"world_size", world},
          {"forward_backward_seconds", ph.forward_backward},
          {"update_seconds", ph.update},
          {"sum_of_phases_seconds", ph.sum()},
          {"step_seconds", step_seconds},
          {"per_step", {{"zero_grads", c.zero_grads / n}, {"host_reads", c.host_reads / n},
                        {"collectives", c.collectives / n}, {"batch_copies", c.batch_copies / n}}},
          {"tokens_per_second", static_cast<double>(tokens) / step_seconds},
          {"tflops_per_second", flops / 1e12},
          {"mfu_vs_bf16_gemm", flops / probe_bf16}};
}

void print_human(const Json& j) {
  std::cout << "bench: " << j["device"].get<std::string>() << ", dtype "
            << j["dtype"].get<std::string>() << " (logits " << j["logits_dtype"].get<std::string>()
            << "), threads " << j["threads"].get<int>() << ", " << j["batch_seqs"].get<int64_t>()
            << " x " << j["seq_len"].get<int64_t>() << " = " << j["micro_batch_tokens"].get<int64_t>()
            << " tokens per micro-batch, " << j["tokens_per_step"].get<int64_t>()
            << " per step, " << j["steps"].get<int>() << " steps after " << j["warmup"].get<int>()
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
      "train step (%s, %lld x %lld rows, rank 1 of %d): forward+backward %.4f s, update %.4f s "
      "(sum %.4f s)\n",
      ts["step"].get<std::string>().c_str(), ts["micro_batches"].get<long long>(),
      ts["rows_per_micro_batch"].get<long long>(), ts["world_size"].get<int>(),
      ts["forward_backward_seconds"].get<double>(), ts["update_seconds"].get<double>(),
      ts["sum_of_phases_seconds"].get<double>());
  std::cout << core::format("train step as the loop runs it: %.4f s, %.0f tokens/s, %.3f TFLOP/s, "
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
  if (a.features)
    return run_feature_bench(cfg, {a.seq_len, a.batch_seqs, a.micro_batches, a.steps, a.warmup,
                                   a.json, a.rounds});
  const int64_t T = a.seq_len > 0 ? a.seq_len : cfg.train.train_seq_len;
  PGOLF_CHECK_INPUT(
      T >= 1 && a.batch_seqs >= 0 && a.micro_batches >= 0 && a.steps >= 1 && a.warmup >= 0,
      "bench: expected --seq-len >= 1, --batch-seqs >= 0, --micro-batches >= 0, --steps >= 1, "
      "--warmup >= 0");
  const int threads = core::configure_threads(static_cast<int>(cfg.train.threads));
  const bool cuda = train::wants_cuda(cfg.train.device);
  // Under torchrun the all-reduce phase is real (one bench per rank; rank 0 prints).
  auto comm = dist::make_comm(cfg.train.dist_backend, cuda, cfg.train.dist_timeout_seconds);
  // The training run's device set-up (TF32, flash SDPA, fused kernels).
  const train::ComputeSetup compute = train::setup_compute(cfg.train, comm->local_rank());
  const torch::Device device = compute.device;
  const auto policy = compute.policy;

  // The training run's accumulation: micro-batches of the rows one rank trains on.
  const int world = comm->world_size();
  const int64_t micro = a.micro_batches > 0 ? a.micro_batches : config::grad_accum_steps(world);
  const int64_t rows = a.batch_seqs > 0 ? a.batch_seqs
                                        : cfg.train.train_batch_tokens / std::max<int64_t>(world * micro, 1) / T;
  PGOLF_CHECK_INPUT(micro >= 1 && rows >= 1,
                    "bench: TRAIN_BATCH_TOKENS " << cfg.train.train_batch_tokens << " over "
                    << world << " rank(s) x " << micro << " micro-batch(es) of seq_len " << T
                    << " leaves no row; pass --batch-seqs or --micro-batches");
  torch::manual_seed(cfg.train.seed);
  model::AnyGPT gpt(cfg.model);
  gpt->to(device);
  gpt->set_dtype_policy(policy);
  const auto opts = torch::TensorOptions().dtype(torch::kLong).device(device);
  const auto ids = torch::randint(0, cfg.model.vocab_size, {rows, T}, opts);
  const auto targets = torch::randint(0, cfg.model.vocab_size, {rows, T}, opts);
  const auto flops = model::flops_per_token(cfg.model, T);
  const int64_t tokens = rows * T;  // one micro-batch (the forward and fwd+bwd phases)
  const int64_t step_tokens = micro * tokens;

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
        gpt->module().zero_grad();
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

  // The training step itself (train::make_step, as the session builds it).
  const auto named = gpt->state_dict();
  optim::OptimizerSet opt(named, cfg.optim, config::split_list(cfg.quant.control_tensor_name_patterns),
                          comm.get());
  std::unique_ptr<train::GradSync> grad_sync;
  if (world > 1)  // MUON_SHARDED: Muon's matrices are reduce-scattered by Muon, as in training
    grad_sync = std::make_unique<train::GradSync>(opt.params_to_average(gpt->parameters()), *comm);
  const bool master = comm->rank() == 0;
  auto step = train::make_step(
      train::StepParts{gpt, &opt, grad_sync.get(), comm.get(), device, policy, gpt->parameters()},
      train::step_options(cfg), [master](const std::string& l) {
        if (master) std::cerr << l << std::endl;
      });
  StepBench sb{*step, *comm, random_batches(micro, rows, T, cfg.model.vocab_size), device,
               cfg.optim.muon_momentum};
  if (cuda) reset_cuda_peak_memory(device.index());
  for (int i = 0; i < a.warmup; ++i) whole_step(sb);
  StepPhases ph;
  for (int i = 0; i < a.steps; ++i) timed_phases(sb, ph);
  ph.forward_backward /= a.steps;
  ph.update /= a.steps;
  step->counters() = {};  // the per-step counts of the loop's form only
  BenchProfile profile(a.profile);
  const std::clock_t cpu0 = std::clock();  // CPU time: what other jobs on a shared box move least
  const double step_s = time_steps([&] { whole_step(sb); }, 0, a.steps, device);
  const double step_cpu_s = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC / a.steps;
  profile.save();
  const int64_t step_peak = cuda ? cuda_peak_memory_bytes(device.index()) : -1;

  Json j;
  j["device"] = device.str();
  j["dtype"] = model::dtype_policy_name(policy);
  j["logits_dtype"] = logits_dtype;
  j["threads"] = threads;
  j["cpu_fast_bf16"] = model::cpu_has_fast_bf16();
  j["seq_len"] = T;
  j["batch_seqs"] = rows;
  j["micro_batch_tokens"] = tokens;
  j["tokens_per_step"] = step_tokens;
  j["steps"] = a.steps;
  j["warmup"] = a.warmup;
  j["params"] = gpt->count_params();
  j["flops_per_token"] = {{"matmul_params", flops.matmul_params},
                          {"attention", flops.attention},
                          {"forward", flops.forward},
                          {"forward_backward", flops.forward_backward}};
  j["phases"] = Json::array({phase("forward", fwd, tokens, flops.forward, probe),
                             phase("fwd+bwd", fwd_bwd, tokens, flops.forward_backward, probe),
                             phase("step", step_s, step_tokens, flops.forward_backward, probe)});
  j["train_step"] = train_step_json(*step, ph, step_s, micro, rows, step_tokens,
                                    flops.forward_backward, probe_bf16, world);
  j["train_step"]["step_cpu_seconds"] = step_cpu_s;
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
  sub->add_option("--batch-seqs", a->batch_seqs,
                  "sequences per micro-batch (default: the training run's, TRAIN_BATCH_TOKENS / "
                  "(WORLD_SIZE * micro-batches) / seq_len)");
  sub->add_option("--micro-batches", a->micro_batches,
                  "micro-batches per step (default: the training run's, 8 / WORLD_SIZE)");
  sub->add_option("--steps", a->steps, "timed steps per phase (default 3)");
  sub->add_option("--warmup", a->warmup, "untimed warm-up steps per phase (default 1)");
  sub->add_option("--probe-size", a->probe_size, "matmul probe n (default 2048 CPU, 8192 CUDA)");
  sub->add_flag("--json", a->json, "print JSON");
  sub->add_option("--profile", a->profile,
                  "write a Chrome trace of the timed whole steps (LibTorch's CPU profiler) to FILE; "
                  "scripts/trace_ops.py sets it beside reference_cpu.py bench --profile's");
  sub->add_flag("--features", a->features,
                "per-feature cost: the training step of the PR #180 model (this config), the "
                "banked GPT and each frontier feature alone on it (XSA, partial RoPE, LN scale, "
                "skip gates, loops, the parallel forms, SmearGate v2, the attention gates, VE, "
                "Polar-Express, row normalisation), ms/step and ratio to the PR #180 line");
  sub->add_option("--rounds", a->rounds,
                  "--features: interleaved timing rounds, the best kept (default 3)");
  return {sub, [a]() { return run_bench(*a); }};
}

}  // namespace pgolf::cli
