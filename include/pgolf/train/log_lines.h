// The reference's human log lines, byte for byte (reference-spec §11.1), as pure functions so
// logs diff against the records' logs and the formats are unit-tested.
#pragma once

#include <cstdint>
#include <string>

namespace pgolf::train {

std::string train_line(int64_t step, int64_t iterations, double train_loss, double train_ms);
std::string val_line(int64_t step, int64_t iterations, double val_loss, double val_bpb,
                     double train_ms);
std::string warmup_line(int64_t step, int64_t total);
bool log_warmup_step(int64_t step, int64_t total);  // every step if total <= 20, else every 10th + last
std::string stopping_early_line(double train_ms, int64_t step, int64_t iterations);
std::string swa_start_line(int64_t step);
std::string swa_apply_line(int64_t count);
std::string final_lines(const std::string& tag, double val_loss, double val_bpb, double eval_ms);
// A train line is logged for steps 1..10, every train_log_every steps, and once a stop is scheduled.
bool log_train_step(int64_t step, int64_t train_log_every, bool stop_scheduled);

}  // namespace pgolf::train
