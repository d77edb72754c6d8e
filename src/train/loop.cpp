// The training loop (see loop.h), following the reference main() step by step. run_loop is one
// short block per step, as llm.c's training section; each concern is a helper called once:
// validation and checkpoints run paused on the TrainClock, the step is Session::step (step.h).
#include "pgolf/train/loop.h"

#include <cmath>

#include "pgolf/core/error.h"
#include "pgolf/core/log.h"
#include "pgolf/optim/schedule.h"
#include "pgolf/quant/qat.h"
#include "pgolf/train/log_lines.h"
#include "pgolf/train/progress.h"
#include "pgolf/train/signals.h"
#include "pgolf/train/step.h"
#include "pgolf/train/train_clock.h"

namespace pgolf::train {
namespace {

// One step's line in metrics.jsonl, kept until the next flush (rank 0 only).
struct PendingMetric {
  StepRecord rec;
  double step_ms = 0.0;
  bool qat = false;
};

// What the loop carries from one step to the next.
struct LoopState {
  int64_t step = 0;          // completed optimiser steps
  int64_t stop_after = -1;   // the wallclock cap was reached at this step: validate and stop
  int64_t saved_step = -1;   // the step the checkpoint file holds
  bool qat_on = false;       // re-derived from the progress after a resume
  double cap_ms = 0.0;       // MAX_WALLCLOCK_SECONDS in ms; 0: no cap
  double prev_ms = 0.0;      // the training clock after the previous step (for step_ms)
  std::vector<PendingMetric> pending;
  LoopResult res;
};

// The schedule of the step after `step` completed ones, at `elapsed_ms` of training.
struct StepSchedule {
  double lr_scale = 1.0;
  double momentum = 0.0;
};

StepSchedule schedule_at(const Session& s, int64_t step, double elapsed_ms, double cap_ms) {
  const auto& t = s.cfg.train;
  const auto& o = s.cfg.optim;
  return {optim::lr_scale(step, elapsed_ms, t.iterations, t.warmdown_iters, t.warmdown_frac,
                          t.min_lr, cap_ms),
          optim::muon_momentum(step, o.muon_momentum_warmup_start, o.muon_momentum,
                               o.muon_momentum_warmup_steps)};
}

// The micro-batches of one step from the loader (each a span x and y are views of), and the cap
// check run_step evaluates right before its exchange.
StepInput next_input(Session& s, int64_t step, const TrainClock* clock, double cap_ms) {
  const auto& t = s.cfg.train;
  StepInput in;
  in.step = step;
  for (int micro = 0; micro < s.grad_accum; ++micro) {
    // Any LOADER: x, y and (stream, docpack) the span they are views of; with VARLEN_ATTN the
    // docpack row's cu_seqlens (the record passes them to every training forward).
    data::Batch b = s.loader->next(t.train_batch_tokens, t.train_seq_len, s.grad_accum);
    in.batches.push_back({b.x, b.y, b.span, s.cfg.model.varlen_attn ? b.cu_seqlens : torch::Tensor()});
  }
  if (clock && cap_ms > 0) in.cap_reached = [clock, cap_ms] { return clock->ms() >= cap_ms; };
  return in;
}

// Writes the buffered train events: at log steps, before validation and checkpoints, at the end.
void flush_metrics(Session& s, LoopState& st) {
  const double tokens = static_cast<double>(s.cfg.train.train_batch_tokens);
  for (const PendingMetric& m : st.pending)
    s.log.metric("train", {{"step", m.rec.step}, {"train_loss", m.rec.train_loss},
                           {"lr_scale", m.rec.lr_scale}, {"muon_momentum", m.rec.muon_momentum},
                           {"grad_norm", m.rec.grad_norm}, {"train_time_ms", m.rec.train_ms},
                           {"step_ms", m.step_ms}, {"tokens_per_s", tokens / (m.step_ms / 1000.0)},
                           {"qat", m.qat}});
  st.pending.clear();
}

void save(Session& s, const LoopOptions& opts, LoopState& st, double train_ms) {
  flush_metrics(s, st);  // the log never trails the checkpoint
  if (opts.checkpoint_path.empty()) return;
  std::string path = opts.checkpoint_path;
  if (s.comm.rank() > 0) path += ".rank" + std::to_string(s.comm.rank());  // sharded Muon state
  save_checkpoint(path, make_checkpoint(s, st.step, train_ms));
  st.saved_step = st.step;
  s.comm.barrier();
}

// Periodic and last validation, outside the training clock.
void validate(Session& s, LoopState& st, TrainClock& clock) {
  const auto paused = clock.pause();
  flush_metrics(s, st);
  const auto [vl, vb] = validate_standard(s);
  st.res.last_val_loss = vl;
  st.res.last_val_bpb = vb;
  st.res.train_ms = paused.ms();
  s.log.line(val_line(st.step, s.cfg.train.iterations, vl, vb, paused.ms()));
  s.log.metric("val", {{"step", st.step}, {"val_loss", vl}, {"val_bpb", vb},
                       {"train_time_ms", paused.ms()}});
}

// Late QAT (LATE_QAT_FRAC) switches on once, before the step that reaches the fraction.
void late_qat(Session& s, LoopState& st, double elapsed_ms, double lr_scale) {
  const auto& t = s.cfg.train;
  if (st.qat_on ||
      !optim::late_qat_due(st.step, elapsed_ms, t.iterations, t.late_qat_frac, st.cap_ms))
    return;
  s.model->set_qat(quant::late_qat_settings(s.cfg.quant));
  st.qat_on = true;
  s.step->invalidate("late QAT changed the forward");
  s.log.line(core::format("late_qat:enabled step:%lld scale:%.4f",
                          static_cast<long long>(st.step), lr_scale));
}

// Not stepped: the weights are those of st.step. Checkpoint them and stop with the reason.
[[noreturn]] void stop_non_finite(Session& s, const LoopOptions& opts, LoopState& st,
                                  const StepReport& r, double lr_scale, double train_ms) {
  save(s, opts, st, train_ms);
  PGOLF_FAIL("non-finite " << (r.loss_finite ? "gradient" : "train loss") << " at step "
             << st.step + 1 << " (lr scale " << lr_scale << "); weights are from step " << st.step
             << (opts.checkpoint_path.empty() ? std::string()
                                              : ", checkpoint written to " + opts.checkpoint_path));
}

// SWA/EMA see the weights only on the steps where they act.
bool average(Session& s, int64_t step, double lr_scale) {
  if (!s.averager || !s.averager->acts_at(step, lr_scale)) return false;
  if (s.averager->after_step(step, lr_scale, s.model->state_dict()))
    s.log.line(swa_start_line(step));
  return true;
}

// After a completed step: averaging, the train line on log steps, the metrics, the test hook.
void record_step(Session& s, const LoopOptions& opts, LoopState& st, const StepReport& r,
                 const StepSchedule& sched, double train_ms) {
  const auto& t = s.cfg.train;
  StepRecord rec{st.step, r.loss, sched.lr_scale, sched.momentum, r.grad_norm, false, train_ms};
  rec.swa_collected = average(s, st.step, sched.lr_scale);
  if (s.log.master()) st.pending.push_back({rec, train_ms - st.prev_ms, st.qat_on});
  st.prev_ms = train_ms;
  if (log_train_step(st.step, t.train_log_every, st.stop_after >= 0)) {
    s.log.line(train_line(st.step, t.iterations, r.loss, train_ms));
    s.log.console(progress_line(st.step, t.iterations, train_ms, st.cap_ms, t.train_batch_tokens));
    flush_metrics(s, st);
  }
  if (opts.on_step) opts.on_step(rec);
}

// A signal that reached any rank (run_step's exchange) stops every rank with a checkpoint.
void stop_on_signal(Session& s, const LoopOptions& opts, LoopState& st, int sig,
                    TrainClock& clock) {
  request_stop(sig);  // all ranks exit with its number
  st.res.train_ms = clock.ms();
  save(s, opts, st, st.res.train_ms);
  s.log.line(core::format("stopping: signal received at step:%lld; checkpoint %s",
                          static_cast<long long>(st.step), opts.checkpoint_path.c_str()));
  st.res.interrupted = true;
}

void checkpoint_if_due(Session& s, const LoopOptions& opts, LoopState& st, TrainClock& clock) {
  const int64_t every = s.cfg.train.checkpoint_every;
  if (every <= 0 || st.step % every != 0) return;
  const auto paused = clock.pause();  // checkpoint writes are outside the training clock
  save(s, opts, st, paused.ms());
}

// Resume or warm up; the state the first step starts from.
LoopState begin(Session& s, const LoopOptions& opts, const Checkpoint* start) {
  const auto& t = s.cfg.train;
  LoopState st;
  st.cap_ms = optim::train_cap_ms(t.max_wallclock_seconds, t.gptq_reserve_seconds);
  if (t.gptq_reserve_seconds > 0 && st.cap_ms > 0)
    s.log.line(core::format("gptq:reserving %.0fs, effective=%.0fms", t.gptq_reserve_seconds,
                            st.cap_ms));
  if (start) {
    restore_checkpoint(s, *start);
    st.step = st.saved_step = start->step;
    st.res.train_ms = st.prev_ms = start->elapsed_ms;
  } else if (opts.run_warmup) {
    run_warmup(s);
  }
  s.model->train();
  return st;
}

// The end of training always leaves a checkpoint (CHECKPOINT_EVERY=0 included), before the
// export: --no-final, a failed export or a signal during the final score keep the weights. This
// is the point where training ends (the Hessian collection and export follow in trainer.cpp).
LoopResult finish(Session& s, const LoopOptions& opts, LoopState& st) {
  const auto& t = s.cfg.train;
  if (!st.res.interrupted && st.stop_after >= 0 && st.step < t.iterations)
    s.log.line(stopping_early_line(st.res.train_ms, st.step, t.iterations));
  if (!st.res.interrupted && st.saved_step != st.step) save(s, opts, st, st.res.train_ms);
  flush_metrics(s, st);
  if (st.qat_on) s.model->set_qat(model::QatSettings{});  // off for what follows (PR #286 too)
  st.res.steps = st.step;
  return st.res;
}

std::function<void()> device_sync(const Session& s) {
  if (!s.device.is_cuda()) return {};
  const auto index = s.device.index();
  return [index] { torch::cuda::synchronize(index); };
}

}  // namespace

void run_warmup(Session& s) {
  const int64_t n = s.cfg.train.warmup_steps;
  if (n <= 0) return;
  const core::NamedTensors initial = s.model->state_dict();
  std::vector<torch::Tensor> snapshot;
  for (const auto& kv : initial) snapshot.push_back(kv.second.detach().clone());
  const auto loader_state = s.loader->state();
  s.model->train();
  for (const bool looped : warmup_forms(s)) {  // NUM_LOOPS: unlooped, then looped
    if (set_session_looping(s, looped, "warm-up of the looped form"))
      s.log.line("loop_warmup:enabled " + layer_lists(s));
    for (int64_t i = 0; i < n; ++i) {
      // The training step itself (graphs captured here, outside the timed loop), at lr scale 1
      // and the final momentum; everything it changes is undone below.
      run_step(*s.step, s.comm, next_input(s, /*step=*/0, nullptr, 0.0), 1.0,
               s.cfg.optim.muon_momentum);
      if (log_warmup_step(i + 1, n)) s.log.line(warmup_line(i + 1, n));
    }
  }
  set_session_looping(s, false, "warm-up done: training starts unlooped");
  core::NamedTensors restored;
  for (size_t i = 0; i < initial.size(); ++i) restored.emplace_back(initial[i].first, snapshot[i]);
  s.model->load_state_dict(restored, /*strict=*/true);
  s.optim->reset();
  s.step->invalidate("optimiser state reset after warm-up");  // graph B captured the old state
  s.loader->restore(loader_state);  // the reference re-creates the loader: back to token 0
}

LoopResult run_loop(Session& s, const LoopOptions& opts, const Checkpoint* start) {
  const auto& t = s.cfg.train;
  LoopState st = begin(s, opts, start);
  TrainClock clock(st.res.train_ms, device_sync(s));
  while (true) {
    const bool last = st.step == t.iterations || (st.stop_after >= 0 && st.step >= st.stop_after);
    if (last || (t.val_loss_every > 0 && st.step % t.val_loss_every == 0)) validate(s, st, clock);
    if (last) break;
    const double elapsed = clock.ms();
    const StepSchedule sched = schedule_at(s, st.step, elapsed, st.cap_ms);
    late_qat(s, st, elapsed, sched.lr_scale);
    apply_progress(s, st.step, elapsed, st.cap_ms);  // depth recurrence switch, WD taper
    const StepReport r = run_step(*s.step, s.comm, next_input(s, st.step + 1, &clock, st.cap_ms),
                                  sched.lr_scale, sched.momentum);
    if (!r.updated) stop_non_finite(s, opts, st, r, sched.lr_scale, clock.ms());
    ++st.step;
    record_step(s, opts, st, r, sched, clock.ms());
    if (r.stop_signal > 0) {
      stop_on_signal(s, opts, st, r.stop_signal, clock);
      break;
    }
    if (st.stop_after < 0 && r.cap_reached) st.stop_after = st.step;
    checkpoint_if_due(s, opts, st, clock);
  }
  return finish(s, opts, st);
}

}  // namespace pgolf::train
