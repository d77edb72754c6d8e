// Reference log line formats (see log_lines.h).
#include "pgolf/train/log_lines.h"

#include <algorithm>

#include "pgolf/core/log.h"

namespace pgolf::train {

using core::format;

std::string train_line(int64_t step, int64_t iterations, double train_loss, double train_ms) {
  return format("step:%lld/%lld train_loss:%.4f train_time:%.0fms step_avg:%.2fms",
                static_cast<long long>(step), static_cast<long long>(iterations), train_loss,
                train_ms, train_ms / std::max<int64_t>(step, 1));
}

std::string val_line(int64_t step, int64_t iterations, double val_loss, double val_bpb,
                     double train_ms) {
  return format("step:%lld/%lld val_loss:%.4f val_bpb:%.4f train_time:%.0fms step_avg:%.2fms",
                static_cast<long long>(step), static_cast<long long>(iterations), val_loss, val_bpb,
                train_ms, train_ms / std::max<int64_t>(step, 1));
}

std::string warmup_line(int64_t step, int64_t total) {
  return format("warmup_step:%lld/%lld", static_cast<long long>(step), static_cast<long long>(total));
}

bool log_warmup_step(int64_t step, int64_t total) {
  return total <= 20 || step % 10 == 0 || step == total;
}

std::string stopping_early_line(double train_ms, int64_t step, int64_t iterations) {
  return format("stopping_early: wallclock_cap train_time:%.0fms step:%lld/%lld", train_ms,
                static_cast<long long>(step), static_cast<long long>(iterations));
}

std::string swa_start_line(int64_t step) {
  return format("swa:start step:%lld", static_cast<long long>(step));
}

std::string swa_apply_line(int64_t count) {
  return format("swa:applying averaged %lld checkpoints", static_cast<long long>(count));
}

std::string final_lines(const std::string& tag, double val_loss, double val_bpb, double eval_ms) {
  return format("%s val_loss:%.4f val_bpb:%.4f eval_time:%.0fms\n%s_exact val_loss:%.8f val_bpb:%.8f",
                tag.c_str(), val_loss, val_bpb, eval_ms, tag.c_str(), val_loss, val_bpb);
}

bool log_train_step(int64_t step, int64_t train_log_every, bool stop_scheduled) {
  return train_log_every > 0 && (step <= 10 || step % train_log_every == 0 || stop_scheduled);
}

std::string progress_line(int64_t step, int64_t iterations, double train_ms, double cap_ms,
                          int64_t tokens_per_step) {
  const double secs = train_ms / 1000.0;
  const double per_step = step > 0 ? secs / static_cast<double>(step) : 0.0;
  std::string eta = core::eta_text(static_cast<double>(step), static_cast<double>(iterations), secs);
  if (cap_ms > 0 && step > 0) {
    const double by_steps = per_step * static_cast<double>(std::max<int64_t>(iterations - step, 0));
    const double by_cap = std::max(cap_ms - train_ms, 0.0) / 1000.0;
    if (by_cap < by_steps) eta = "eta " + core::format_duration(by_cap) + " (wallclock cap)";
  }
  const std::string rate = per_step >= 1.0 || per_step == 0.0
                               ? format("%.2f s/step", per_step)
                               : format("%.1f steps/s", 1.0 / per_step);
  return format("progress: step %lld/%lld, %s, %.0f tokens/s, ", static_cast<long long>(step),
                static_cast<long long>(iterations), rate.c_str(),
                per_step > 0 ? static_cast<double>(tokens_per_step) / per_step : 0.0) +
         eta;
}

}  // namespace pgolf::train
