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
// Console only, after each train line (not in train.log, which keeps the reference's lines):
// "progress: step 40/100, 1.42 s/step, 5768 tokens/s, eta 1m25s". The time left is the smaller
// of the remaining steps at the average step time and what is left of a wallclock cap (> 0).
std::string progress_line(int64_t step, int64_t iterations, double train_ms, double cap_ms,
                          int64_t tokens_per_step);

}  // namespace pgolf::train
