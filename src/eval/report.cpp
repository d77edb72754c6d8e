// Progress lines, summary line and eval.json for evaluation results (see report.h).
#include "pgolf/eval/report.h"

#include <utility>

#include "pgolf/core/error.h"
#include "pgolf/core/files.h"

namespace pgolf::eval {

const char* EvalResult::unit_name() const {
  if (method == "standard") return "sequences";
  if (method == "ttt_lora" || method == "ttt_doc") return "documents";
  if (method == "ttt_chunk_sgd") return "chunks";
  return "windows";
}

void finish_result(EvalResult& r, const BpbSums& local, const DistContext& dist,
                   const ProgressReporter& clock) {
  r.local_tokens = local.tokens;
  r.sums = local;
  r.sums.all_reduce(dist);
  r.val_loss = r.sums.loss();
  r.val_bpb = r.sums.bpb();
  r.seconds = clock.seconds();
}

ProgressReporter::ProgressReporter(ProgressOptions opts, std::string method, const char* unit,
                                   int64_t total_units)
    : opts_(std::move(opts)),
      method_(std::move(method)),
      unit_(unit),
      total_(total_units),
      start_(std::chrono::steady_clock::now()) {}

bool ProgressReporter::due(int64_t batch_index, bool last) const {
  if (!opts_.fn || opts_.every <= 0) return false;
  return last || batch_index % opts_.every == 0;
}

void ProgressReporter::report(int64_t done, const BpbSums& local) const {
  if (!opts_.fn) return;
  EvalProgress p;
  p.method = method_;
  p.unit = unit_;
  p.done = done;
  p.total = total_;
  p.running_bpb = local.bpb();
  p.seconds = seconds();
  p.tokens_per_second = p.seconds > 0 ? local.tokens / p.seconds : 0.0;
  opts_.fn(p);
}

double ProgressReporter::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string progress_line(const EvalProgress& p) {
  const double pct =
      p.total > 0 ? 100.0 * static_cast<double>(p.done) / static_cast<double>(p.total) : 100.0;
  return core::format("  %s_eval [%5.1f%%] %lld/%lld %s running_bpb=%.6f tokens/s=%.0f ",
                      p.method.c_str(), pct, static_cast<long long>(p.done),
                      static_cast<long long>(p.total), p.unit, p.running_bpb,
                      p.tokens_per_second) +
         core::eta_text(static_cast<double>(p.done), static_cast<double>(p.total), p.seconds);
}

ProgressFn console_progress(core::Logger& logger) {
  return [&logger](const EvalProgress& p) { logger.console(progress_line(p)); };
}

std::string result_line(const EvalResult& r) {
  std::string head = "eval_" + r.method;
  if (!r.mode.empty()) head += " mode:" + r.mode;
  if (r.settings.contains("stride")) head += " stride:" + r.settings["stride"].dump();
  return head +
         core::format(" val_loss:%.8f val_bpb:%.8f tokens:%.0f bytes:%.0f %s:%lld eval_time:%.0fms",
                      r.val_loss, r.val_bpb, r.sums.tokens, r.sums.bytes, r.unit_name(),
                      static_cast<long long>(r.units), 1000.0 * r.seconds);
}

std::string timing_line(const EvalResult& r) {
  return core::format("eval_timing method:%s decompress:%.1fs warmup:%.1fs score:%.1fs",
                      r.method.c_str(), r.decompress_seconds, r.warmup_seconds, r.seconds);
}

nlohmann::json to_json(const EvalResult& r) {
  nlohmann::json j;
  j["method"] = r.method;
  if (!r.mode.empty()) j["mode"] = r.mode;
  j["val_loss"] = r.val_loss;
  j["val_bpb"] = r.val_bpb;
  j["nll_sum"] = r.sums.nll;
  j["token_count"] = r.sums.tokens;
  j["byte_count"] = r.sums.bytes;
  j[r.unit_name()] = r.units;
  j["local"] = {{r.unit_name(), r.local_units},
                {"batches", r.local_batches},
                {"token_count", r.local_tokens},
                {"tokens_per_second", r.tokens_per_second()}};
  j["seconds"] = r.seconds;
  j["timing"] = {{"decompress_seconds", r.decompress_seconds},
                 {"warmup_seconds", r.warmup_seconds},
                 {"score_seconds", r.seconds}};
  j["settings"] = r.settings;
  return j;
}

void write_eval_json(const std::string& path, const std::vector<EvalResult>& results,
                     const nlohmann::json& extra) {
  PGOLF_CHECK(extra.is_object(),
              "write_eval_json: extra must be a JSON object, found " << extra.type_name());
  nlohmann::json doc = extra;
  doc["results"] = nlohmann::json::array();
  for (const EvalResult& r : results) doc["results"].push_back(to_json(r));
  core::write_file_atomic(path, doc.dump(2) + "\n");
}

}  // namespace pgolf::eval
