// run_training (see trainer.h): set-up, resume, loop, then the reference's end of main():
// averaging, raw save, pruning + quantisation + zstd export, round trip and the final score.
#include "pgolf/train/trainer.h"

#include <chrono>

#include "pgolf/core/error.h"
#include "pgolf/core/files.h"
#include "pgolf/core/tensor_io.h"
#include "pgolf/eval/report.h"
#include "pgolf/eval/sliding.h"
#include "pgolf/eval/standard.h"
#include "pgolf/quant/budget.h"
#include "pgolf/quant/export.h"
#include "pgolf/train/calibration.h"
#include "pgolf/train/checkpoint.h"
#include "pgolf/train/log_lines.h"
#include "pgolf/train/loop.h"
#include "pgolf/train/signals.h"
#include "pgolf/train/weights.h"

namespace pgolf::train {
namespace {

using core::format;

// Thrown where a stop signal abandons the final export and score. Nothing is lost: the loop wrote
// the end-of-training checkpoint before finalize() started, and --resume redoes this part.
struct FinalAbandoned {
  const char* phase;  // "export" | "evaluation"
};

void stop_point(const char* phase) {
  if (stop_requested()) throw FinalAbandoned{phase};
}

// The score of the current weights: sliding window when 0 < stride < seq_len, else standard.
eval::EvalResult final_eval(Session& s) {
  torch::NoGradGuard no_grad;
  s.model->eval();
  const auto& c = s.cfg;
  eval::EvalResult r;
  if (eval::sliding_enabled(c.eval, c.train.train_seq_len)) {  // the rule `pgolf eval` follows
    s.log.line(format("final_eval_mode:sliding_window stride:%lld batch_seqs:%lld mode:%s",
                      static_cast<long long>(c.eval.eval_stride),
                      static_cast<long long>(c.eval.eval_batch_seqs),
                      config::choice_name(c.eval.sliding_mode)));
    auto o = eval::sliding_options(c.eval, c.train.train_seq_len);
    o.device = s.device;
    o.progress.fn = eval::console_progress(s.log);
    o.progress.poll = [] { stop_point("evaluation"); };
    r = eval::eval_sliding(logits_fn(s), s.val_tokens, s.luts, o, dist_context(s));
  } else {
    s.log.line(c.model.varlen_attn ? "final_eval_mode:standard varlen" : "final_eval_mode:standard");
    auto o = standard_eval_options(s);
    o.progress.poll = [] { stop_point("evaluation"); };
    r = eval::eval_standard(logits_fn(s), s.val_tokens, s.luts, o, dist_context(s));
  }
  return r;
}

core::NamedTensors to_cpu(const core::NamedTensors& sd) {
  core::NamedTensors out;
  for (const auto& [n, t] : sd) out.emplace_back(n, t.detach().to(torch::kCPU).contiguous());
  return out;
}

// The calibration of QUANT_SCHEME=gptq on rank 0 (the rank whose artifact is written), logged with
// its end time against the cap; empty for the other schemes and ranks.
core::NamedTensors gptq_hessians(Session& s, const LoopResult& loop) {
  if (s.cfg.quant.quant_scheme != config::QuantScheme::kGptq || s.comm.rank() != 0) return {};
  s.log.line(s.cfg.quant.gptq_ar_selfgen ? "gptq:generating autoregressive calibration data..."
                                         : "GPTQ:collecting Hessians from calibration data...");
  const CalibrationSetup setup{s.train_files, s.comm.world_size(), s.grad_accum, s.device};
  CalibrationReport rep;
  auto h = calibrate_gptq(s.model->module(), logits_fn(s), s.model->state_dict(), s.cfg, setup, &rep);
  for (const auto& l : calibration_lines(rep, loop.train_ms, s.cfg.train.max_wallclock_seconds))
    s.log.line(l);
  s.log.metric("gptq_calibration",
               {{"source", rep.ar_selfgen ? "ar_selfgen" : "train"}, {"forwards", rep.forwards},
                {"tokens", rep.tokens}, {"hessians", rep.hessians},
                {"generate_seconds", rep.generate_seconds}, {"collect_seconds", rep.collect_seconds},
                {"train_time_ms", loop.train_ms}});
  return h;
}

// eval.json, submission.json and the final metric (rank 0).
void write_results(Session& s, const RunDir& dir, const LoopResult& loop, const eval::EvalResult& r,
                   double eval_ms, const quant::Budget& budget) {
  nlohmann::json extra = {{"pre_quant_val_loss", loop.last_val_loss},
                          {"pre_quant_val_bpb", loop.last_val_bpb},
                          {"steps", loop.steps},
                          {"train_time_ms", loop.train_ms},
                          {"bytes_model", budget.model_bytes},
                          {"bytes_code", budget.code_bytes},
                          {"bytes_total", budget.total()}};
  eval::write_eval_json(dir.eval_json(), {r}, extra);
  quant::SubmissionInfo info;
  info.name = "pgolf run " + dir.path;
  info.val_loss = r.val_loss;
  info.val_bpb = r.val_bpb;
  info.extra = {{"seed", s.cfg.train.seed},
                {"step_stop", loop.steps},
                {"wallclock_seconds", loop.train_ms / 1000.0},
                {"eval_time_seconds", eval_ms / 1000.0},
                {"pre_quant_val_loss", loop.last_val_loss},
                {"pre_quant_val_bpb", loop.last_val_bpb}};
  quant::write_submission_json(dir.submission_json(), info, budget);
  s.log.metric("final", {{"val_loss", r.val_loss}, {"val_bpb", r.val_bpb},
                         {"pre_quant_val_bpb", loop.last_val_bpb},
                         {"bytes_total", budget.total()}, {"eval_ms", eval_ms}});
}

void finalize(Session& s, const RunDir& dir, const TrainOptions& opts, const LoopResult& loop,
              TrainSummary& summary) {
  stop_point("export");  // a signal during the last validation
  if (s.averager) {
    auto avg = s.averager->averaged(s.model->state_dict());
    if (!avg.empty()) {
      s.log.line(s.averager->apply_line());
      s.model->load_state_dict(avg, /*strict=*/true);
    }
  }
  // QUANT_SCHEME=gptq: Hessians right after the loop, inside GPTQ_RESERVE_SECONDS (rank 0's).
  const core::NamedTensors hessians = gptq_hessians(s, loop);
  const core::NamedTensors sd = to_cpu(file_state_dict(s.model));  // RECORD_BANKS: banks
  quant::Budget budget;
  if (!opts.code_root.empty()) {
    std::vector<std::string> configs;
    if (!opts.config_path.empty()) configs.push_back(opts.config_path);
    budget.code_bytes = s.cfg.quant.code_bytes >= 0
                            ? s.cfg.quant.code_bytes
                            : quant::measure_code_bytes(opts.code_root, configs).compressed_bytes;
  }
  if (s.comm.rank() == 0) {
    core::save_tensors(dir.path + "/final_model.pt", sd);
    const int64_t raw = static_cast<int64_t>(core::file_size(dir.path + "/final_model.pt"));
    s.log.line(format("Serialized model: %lld bytes", static_cast<long long>(raw)));
    s.log.line(format("Code size: %lld bytes", static_cast<long long>(budget.code_bytes)));
    s.log.line(format("Total submission size: %lld bytes",
                      static_cast<long long>(raw + budget.code_bytes)));
    quant::ExportOptions eopts;
    if (!hessians.empty()) eopts.hessians = &hessians;
    eopts.code_bytes = budget.code_bytes;  // TARGET_MB counts them
    auto report = quant::export_artifact(sd, s.cfg.quant, dir.artifact(), eopts);
    budget.model_bytes = report.compressed_bytes;
    for (const auto& l : quant::report_lines(report)) s.log.file_only(l);
    s.log.line(format("Serialized model int6+%s: %lld bytes",
                      config::choice_name(s.cfg.quant.compressor),
                      static_cast<long long>(report.compressed_bytes)));
    s.log.line(format("Total submission size int8+zlib: %lld bytes",
                      static_cast<long long>(budget.total())));
  }
  s.comm.barrier();
  stop_point("evaluation");  // a signal during the export (the artifact itself is complete)
  // Every rank reloads the file from disk, as the reference does, and scores the round trip.
  load_file_state_dict(s.model, quant::load_artifact(dir.artifact(), sd));
  s.model->set_looping(true);  // NUM_LOOPS: scored looped, as the records' eval models
  auto t0 = std::chrono::steady_clock::now();
  auto r = final_eval(s);
  const double eval_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  stop_point("evaluation");
  s.log.line(final_lines("final_int8_zlib_roundtrip", r.val_loss, r.val_bpb, eval_ms));
  summary.final_val_loss = r.val_loss;
  summary.final_val_bpb = r.val_bpb;
  budget.model_bytes = static_cast<int64_t>(core::file_size(dir.artifact()));
  summary.bytes_total = budget.total();
  if (s.comm.rank() == 0) write_results(s, dir, loop, r, eval_ms, budget);
  if (!opts.allow_over_budget) quant::check_budget(budget);
}

}  // namespace

TrainSummary run_training(const config::Config& cfg, dist::Comm& comm, core::Logger& log,
                          const RunDir& dir, const TrainOptions& opts) {
  install_stop_signal_handlers();
  auto s = make_session(cfg, comm, log);
  LoopOptions lo;
  lo.checkpoint_path = dir.latest_checkpoint();
  TrainSummary summary;
  LoopResult loop;
  if (opts.resume) {
    std::string path = dir.latest_checkpoint();
    if (comm.rank() > 0) path += ".rank" + std::to_string(comm.rank());
    const Checkpoint ckpt = load_checkpoint(path);
    log.line(format("resume: step:%lld train_time:%.0fms from %s",
                    static_cast<long long>(ckpt.step), ckpt.elapsed_ms, path.c_str()));
    loop = run_loop(*s, lo, &ckpt);
  } else {
    loop = run_loop(*s, lo);
  }
  summary.steps = loop.steps;
  summary.train_ms = loop.train_ms;
  summary.interrupted = loop.interrupted;
  if (loop.interrupted || !opts.finalize) return summary;
  try {
    finalize(*s, dir, opts, loop, summary);
  } catch (const FinalAbandoned& stop) {
    // Not swallowed: the run ends with 128 + the signal, and says what is kept.
    log.line(format("stopping: signal received during the final %s; no score written; checkpoint "
                    "%s holds the trained weights: pgolf train --resume %s finishes the run",
                    stop.phase, lo.checkpoint_path.c_str(), dir.path.c_str()));
    summary.interrupted = true;
  }
  return summary;
}

}  // namespace pgolf::train
