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

}  // namespace pgolf::train
