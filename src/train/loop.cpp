// The training loop (see loop.h), following the reference main() step by step.
#include "pgolf/train/loop.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>

#include "pgolf/config/resolve.h"
#include "pgolf/core/error.h"
#include "pgolf/core/log.h"
#include "pgolf/data/loader.h"
#include "pgolf/optim/schedule.h"
#include "pgolf/quant/qat.h"
#include "pgolf/train/grad_sync.h"
#include "pgolf/train/log_lines.h"
#include "pgolf/train/signals.h"
#include "pgolf/train/step_graph.h"

namespace pgolf::train {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::vector<torch::Tensor> param_list(Session& s) { return s.model->parameters(); }

// Test hook (tests/e2e/fault_nan_grad_test.sh): PGOLF_INJECT_NAN_STEP=N fills one gradient of this
// rank with NaN at optimiser step N (1-based), after the gradient all-reduce.
int64_t nan_injection_step() {
  static const int64_t step = [] {
    const char* v = std::getenv("PGOLF_INJECT_NAN_STEP");
    return v != nullptr ? std::atoll(v) : int64_t{-1};
  }();
  return step;
}

// L2 norm over all gradients as a 0-d tensor (one fused foreach kernel, no host sync); NaN/Inf in
// any gradient makes it non-finite.
torch::Tensor total_grad_norm(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return torch::zeros({}, torch::kFloat64);
  return torch::stack(at::_foreach_norm(grads, 2)).to(torch::kFloat64).norm();
}

struct StepResult {
  double loss = 0.0;        // mean micro-step loss over the global batch
  double norm = 0.0;        // the clip norm (0 without clipping)
  bool grads_finite = true;
};

// On CUDA a batch goes through pinned host memory, so the non-blocking copy is really
// asynchronous (a pageable source makes it synchronous); a tensor already on the device stays.
torch::Tensor to_device(const torch::Tensor& t, const torch::Device& device) {
  if (t.device() == device) return t;
  return (device.is_cuda() ? t.pin_memory() : t).to(device, /*non_blocking=*/true);
}

// Forward/backward of every micro-step (also the body a CUDA graph captures, then with
// arm_sync=false and device batches). Returns the fp32 sum of the micro-step losses on the device.
torch::Tensor forward_backward(Session& s, const std::vector<StepBatch>& batches, bool arm_sync) {
  torch::Tensor loss_sum = torch::zeros({}, torch::TensorOptions().device(s.device));
  for (size_t micro = 0; micro < batches.size(); ++micro) {
    // DDP: gradients are averaged once, overlapping the last micro-step's backward.
    if (arm_sync && s.grad_sync && micro + 1 == batches.size()) s.grad_sync->arm();
    const auto x = to_device(batches[micro].x, s.device);
    const auto y = to_device(batches[micro].y, s.device);
    torch::Tensor loss;
    {
      model::ComputeScope scope(s.policy, s.device.type());
      loss = s.model->forward(x, y);
    }
    loss_sum += loss.detach().to(torch::kFloat32);
    (loss * (1.0 / s.grad_accum)).backward();
  }
  return loss_sum;
}

// CUDA_GRAPHS=1: the graphs are made once per session (null with a logged reason on CPU).
// Graph A: forward/backward, gradient averaging, the norm; graph B: clipping and the optimisers.
void ensure_step_graph(Session& s) {
  if (!s.cfg.train.cuda_graphs || s.step_graph_checked) return;
  s.step_graph_checked = true;
  Session* sp = &s;
  StepFns fns;
  fns.body = [sp](const std::vector<StepBatch>& b) {
    return forward_backward(*sp, b, /*arm_sync=*/false);
  };
  if (s.comm.world_size() > 1)
    fns.reduce = [sp] { average_gradients(param_list(*sp), sp->comm); };
  fns.grad_norm = [sp] { return optim::grad_total_norm(param_list(*sp)); };
  fns.prepare_update = [sp] { sp->optim->prepare_captured_step(); };
  fns.upload = [sp] { sp->optim->upload_step_scalars(); };
  fns.update = [sp](const torch::Tensor& norm, const torch::Tensor& max_norm) {
    optim::clip_grads_with_norm(param_list(*sp), norm, max_norm);
    sp->optim->captured_step();
  };
  fns.commit = [sp] { sp->optim->commit_captured_step(); };
  fns.update_state = [sp] { return sp->optim->captured_state(); };
  if (s.comm.world_size() > 1)
    fns.all_ok = [sp](bool ok) {
      const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(sp->device);
      torch::Tensor failed = torch::full({1}, ok ? 0.0f : 1.0f, f32);
      sp->comm.all_reduce_max(failed);
      return failed.item<float>() == 0.0f;
    };
  s.step_graph = make_step_graph(s.device, s.model->parameters(), std::move(fns),
                                 [sp](const std::string& line) { sp->log.line(line); });
}

// Forward/backward over the accumulation micro-steps, gradient averaging, clipping and the
// optimiser step (skipped when the loss or any gradient is non-finite on any rank). Returns the
// mean micro-step loss (fp32 sum as the reference) and the norm.
StepResult train_step(Session& s, double scale, double momentum, bool clip, bool poison = false) {
  const auto& t = s.cfg.train;
  s.optim->zero_grad();
  std::vector<StepBatch> batches;  // CPU int64, all micro-steps of this step
  for (int micro = 0; micro < s.grad_accum; ++micro) {
    auto [x, y] = s.loader->next_batch(t.train_batch_tokens, t.train_seq_len, s.grad_accum);
    batches.push_back({x, y});
  }
  const auto params = param_list(s);
  // Replayed graph A: gradients averaged across ranks inside it (no overlap with backward).
  const StepGraph::Result graph = s.step_graph ? s.step_graph->run(batches) : StepGraph::Result{};
  torch::Tensor loss_sum = graph.loss_sum;
  const bool graphed = loss_sum.defined();
  if (!graphed) {
    s.step_graph.reset();  // null already, or it has just fallen back for good
    s.optim->zero_grad();
    loss_sum = forward_backward(s, batches, /*arm_sync=*/true);
    if (s.grad_sync) s.grad_sync->finish();
  }
  if (poison) {
    for (const auto& p : params)
      if (p.grad().defined()) {
        p.grad().fill_(std::nan(""));
        break;
      }
  }
  s.optim->set_schedule(scale, momentum);
  const bool clipping = clip && s.cfg.optim.grad_clip_norm > 0;
  double norm = 0.0;
  torch::Tensor health;
  if (graphed) {
    // Graph A measured the pre-clip norm; graph B (or the eager fallback below) clips.
    health = poison ? total_grad_norm(params) : graph.grad_norm;
  } else {
    if (clipping) norm = optim::clip_grad_norm(params, s.cfg.optim.grad_clip_norm);
    // A NaN gradient can come with a finite loss (an overflow in backward); stepping on it would
    // poison the weights and every later checkpoint. 0 * norm is 0, or NaN for a NaN/Inf norm.
    health = clipping ? torch::tensor(norm, torch::kFloat64) : total_grad_norm(params);
  }
  // The mean over the global batch (the reference prints rank 0's share only). Summed over ranks,
  // so a non-finite loss or gradient on any rank is non-finite on all: every rank agrees before
  // stepping.
  torch::Tensor sums = torch::stack({loss_sum.to(torch::kCPU, torch::kFloat64),
                                     health.to(torch::kCPU, torch::kFloat64) * 0.0});
  if (s.comm.world_size() > 1) s.comm.all_reduce_sum(sums);
  const double train_loss = sums[0].item<double>() / (s.grad_accum * s.comm.world_size());
  const bool grads_finite = std::isfinite(sums[1].item<double>());
  if (graphed && clipping) norm = graph.grad_norm.item<double>();
  if (!std::isfinite(train_loss) || !grads_finite) return {train_loss, norm, grads_finite};
  if (!graphed || !s.step_graph->update(clipping ? s.cfg.optim.grad_clip_norm : 0.0)) {
    if (graphed && clipping) optim::clip_grad_norm(params, s.cfg.optim.grad_clip_norm);
    s.optim->step();
  }
  s.optim->zero_grad();
  return {train_loss, norm, true};
}

double momentum_at(const config::OptimConfig& o, int64_t step) {
  return optim::muon_momentum(step, o.muon_momentum_warmup_start, o.muon_momentum,
                              o.muon_momentum_warmup_steps);
}

void save(Session& s, const LoopOptions& opts, int64_t step, double train_ms) {
  if (opts.checkpoint_path.empty()) return;
  std::string path = opts.checkpoint_path;
  if (s.comm.rank() > 0) path += ".rank" + std::to_string(s.comm.rank());  // sharded Muon state
  save_checkpoint(path, make_checkpoint(s, step, train_ms));
  s.comm.barrier();
}

}  // namespace

void run_warmup(Session& s) {
  const int64_t n = s.cfg.train.warmup_steps;
  if (n <= 0) return;
  ensure_step_graph(s);  // captured during warm-up, outside the timed loop
  const core::NamedTensors initial = s.model->state_dict();
  std::vector<torch::Tensor> snapshot;
  for (const auto& kv : initial) snapshot.push_back(kv.second.detach().clone());
  const auto loader_state = s.loader->state();
  s.model->train();
  for (int64_t i = 0; i < n; ++i) {
    // Whatever lr the groups were built with: scale 1, the configured final momentum, no clip.
    train_step(s, 1.0, s.cfg.optim.muon_momentum, /*clip=*/false);
    if (log_warmup_step(i + 1, n)) s.log.line(warmup_line(i + 1, n));
  }
  core::NamedTensors restored;
  for (size_t i = 0; i < initial.size(); ++i) restored.emplace_back(initial[i].first, snapshot[i]);
  s.model->load_state_dict(restored, /*strict=*/true);
  s.optim->reset();
  // Graph B captured the optimiser state reset() just dropped.
  if (s.step_graph) s.step_graph->invalidate("optimiser state reset after warm-up");
  s.loader->restore(loader_state);  // the reference re-creates the loader: back to token 0
}

LoopResult run_loop(Session& s, const LoopOptions& opts, const Checkpoint* start) {
  const auto& t = s.cfg.train;
  const double cap_ms = t.max_wallclock_seconds > 0 ? 1000.0 * t.max_wallclock_seconds : 0.0;
  LoopResult res;
  int64_t step = 0;
  double training_ms = 0.0;
  if (start) {
    restore_checkpoint(s, *start);
    step = start->step;
    training_ms = start->elapsed_ms;
  } else if (opts.run_warmup) {
    run_warmup(s);
  }
  ensure_step_graph(s);
  int64_t stop_after = -1;
  int64_t saved_step = start ? start->step : -1;  // the step the checkpoint file holds
  bool qat_on = false;  // re-derived from the progress after a resume
  s.model->train();
  auto t0 = Clock::now();
  while (true) {
    const bool last = step == t.iterations || (stop_after >= 0 && step >= stop_after);
    if (last || (t.val_loss_every > 0 && step % t.val_loss_every == 0)) {
      training_ms += ms_since(t0);
      auto [vl, vb] = validate_standard(s);
      res.last_val_loss = vl;
      res.last_val_bpb = vb;
      s.log.line(val_line(step, t.iterations, vl, vb, training_ms));
      s.log.metric("val", {{"step", step}, {"val_loss", vl}, {"val_bpb", vb},
                           {"train_time_ms", training_ms}});
      t0 = Clock::now();
    }
    if (last) {
      if (stop_after >= 0 && step < t.iterations)
        s.log.line(stopping_early_line(training_ms, step, t.iterations));
      break;
    }
    const double elapsed = training_ms + ms_since(t0);
    const double scale = optim::lr_mul(step, elapsed, t.iterations, t.warmdown_iters, cap_ms);
    const double momentum = momentum_at(s.cfg.optim, step);
    if (!qat_on && optim::late_qat_due(step, elapsed, t.iterations, t.late_qat_frac, cap_ms)) {
      s.model->set_qat(quant::late_qat_settings(s.cfg.quant));
      qat_on = true;
      if (s.step_graph) s.step_graph->invalidate("late QAT changed the forward");
      s.log.line(core::format("late_qat:enabled step:%lld scale:%.4f",
                              static_cast<long long>(step), scale));
    }
    const auto step_t0 = Clock::now();
    const auto [train_loss, norm, grads_finite] =
        train_step(s, scale, momentum, /*clip=*/true, /*poison=*/step + 1 == nan_injection_step());
    if (!std::isfinite(train_loss) || !grads_finite) {  // not stepped: weights are step's
      training_ms += ms_since(t0);
      save(s, opts, step, training_ms);
      PGOLF_FAIL("non-finite " << (std::isfinite(train_loss) ? "gradient" : "train loss")
                 << " at step " << step + 1 << " (lr scale " << scale
                 << "); weights are from step " << step
                 << (opts.checkpoint_path.empty() ? std::string()
                                                  : ", checkpoint written to " + opts.checkpoint_path));
    }
    ++step;
    const double approx_ms = training_ms + ms_since(t0);
    StepRecord rec{step, train_loss, scale, momentum, norm, false, approx_ms};
    if (s.averager) {
      const bool first = s.averager->after_step(step, scale, s.model->state_dict());
      rec.swa_collected = s.averager->collected();
      if (first) s.log.line(swa_start_line(step));
    }
    if (log_train_step(step, t.train_log_every, stop_after >= 0)) {
      s.log.line(train_line(step, t.iterations, train_loss, approx_ms));
      s.log.console(progress_line(step, t.iterations, approx_ms, cap_ms, t.train_batch_tokens));
    }
    const double step_ms = ms_since(step_t0);
    s.log.metric("train", {{"step", step}, {"train_loss", train_loss}, {"lr_scale", scale},
                           {"muon_momentum", momentum}, {"grad_norm", norm},
                           {"train_time_ms", approx_ms}, {"step_ms", step_ms},
                           {"tokens_per_s", t.train_batch_tokens / (step_ms / 1000.0)},
                           {"qat", qat_on}});
    if (opts.on_step) opts.on_step(rec);
    // Wallclock cap and stop signal, agreed by every rank (MAX all-reduce); a signal that reached
    // one rank stops all of them, and all exit with its number.
    torch::Tensor flags = torch::tensor({cap_ms > 0 && approx_ms >= cap_ms ? 1.0f : 0.0f,
                                         static_cast<float>(stop_signal())});
    if (s.comm.world_size() > 1) s.comm.all_reduce_max(flags);
    if (flags[1].item<float>() > 0) {
      request_stop(static_cast<int>(flags[1].item<float>()));
      training_ms += ms_since(t0);
      save(s, opts, step, training_ms);
      s.log.line(core::format("stopping: signal received at step:%lld; checkpoint %s",
                              static_cast<long long>(step), opts.checkpoint_path.c_str()));
      res.interrupted = true;
      break;
    }
    if (stop_after < 0 && flags[0].item<float>() > 0) stop_after = step;
    if (t.checkpoint_every > 0 && step % t.checkpoint_every == 0) {
      training_ms += ms_since(t0);  // checkpoint writes are outside the training clock
      save(s, opts, step, training_ms);
      saved_step = step;
      t0 = Clock::now();
    }
  }
  // The end of training always leaves a checkpoint (CHECKPOINT_EVERY=0 included), before the
  // export: --no-final, a failed export or a signal during the final score keep the weights.
  if (!res.interrupted && saved_step != step) save(s, opts, step, training_ms);
  if (qat_on) s.model->set_qat(model::QatSettings{});  // off for what follows (PR #286 too)
  res.steps = step;
  res.train_ms = training_ms;
  return res;
}

}  // namespace pgolf::train
