// `pgolf export`: checkpoint or state dict -> pruned, quantised, zstd-22 artifact through
// quant::export_artifact (the same path as the end of `pgolf train`), then the byte budget:
// model + code bytes against the 16,000,000 cap (exit 3 when over unless --allow-over-budget),
// optionally submission.json. `pgolf export --inspect FILE...` validates and summarises artifacts,
// training checkpoints and state dicts.
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>

#include "pgolf/cli/commands.h"
#include "pgolf/config/resolve.h"
#include "pgolf/core/error.h"
#include "pgolf/core/files.h"
#include "pgolf/core/log.h"
#include "pgolf/data/loader.h"
#include "pgolf/model/any_gpt.h"
#include "pgolf/model/dtype.h"
#include "pgolf/quant/budget.h"
#include "pgolf/quant/export.h"
#include "pgolf/quant/zip_check.h"
#include "pgolf/train/calibration.h"
#include "pgolf/train/checkpoint.h"
#include "pgolf/train/weights.h"

namespace pgolf::cli {
namespace {

namespace fs = std::filesystem;

struct ExportArgs {
  std::string checkpoint, out, submission_json, repo_root;
  std::vector<std::string> inspect;
  bool allow_over_budget = false;
  int zstd_threads = 0;
  quant::SubmissionInfo info;
  double val_loss = 0, val_bpb = 0;
  CLI::Option* val_loss_opt = nullptr;
  CLI::Option* val_bpb_opt = nullptr;
};

// A plain state dict (Python torch.save / core::save_tensors), or a pgolf training checkpoint,
// whose "model/" tensors are the weights.
core::NamedTensors load_weights(const std::string& path) {
  auto tensors = core::load_tensors(path);
  if (core::find_tensor(tensors, "__pgolf_checkpoint__") == nullptr) return tensors;
  const auto ckpt = train::load_checkpoint(path);
  auto model = train::with_prefix(ckpt.tensors, "model/");
  PGOLF_CHECK_INPUT(!model.empty(), path << ": checkpoint holds no model/ tensors");
  return model;
}

bool is_source_root(const fs::path& p) {
  return fs::is_regular_file(p / "CMakeLists.txt") && fs::is_directory(p / "src" / "quant");
}

// The source tree whose bytes are counted: --repo-root, else the first ancestor of the
// executable, then of the working directory, that holds CMakeLists.txt and src/quant.
std::string find_repo_root(const std::string& given) {
  if (!given.empty()) return given;
  std::error_code ec;
  for (fs::path start : {fs::read_symlink("/proc/self/exe", ec).parent_path(), fs::current_path()})
    for (fs::path p = start; !p.empty(); p = p.parent_path()) {
      if (is_source_root(p)) return p.string();
      if (p == p.root_path()) break;
    }
  PGOLF_FAIL_INPUT("code bytes: cannot find the pgolf source tree from the executable or the "
                   "working directory; pass --repo-root DIR or set CODE_BYTES");
}

int64_t count_non_finite(const core::NamedTensors& tensors) {
  int64_t n = 0;
  for (const auto& [name, t] : tensors)
    if (t.is_floating_point() && !torch::isfinite(t).all().item<bool>()) ++n;
  return n;
}

// A torch.save archive (zip): a pgolf training checkpoint (fully validated as --resume reads it,
// CRCs included) or a plain state dict.
int inspect_archive(const std::string& path) {
  const auto raw = core::read_file(path);
  const std::vector<char> bytes(raw.begin(), raw.end());
  quant::verify_torch_zip(bytes, path);
  const auto tensors = core::tensors_from_bytes(bytes, path);
  if (core::find_tensor(tensors, "__pgolf_checkpoint__") == nullptr) {
    std::cout << path << ": state dict, " << core::file_size(path) << " bytes\n"
              << "state_dict: tensors:" << tensors.size()
              << " non_finite_tensors:" << count_non_finite(tensors) << "\n";
    return kExitOk;
  }
  const auto ckpt = train::load_checkpoint(path);
  std::cout << path << ": pgolf checkpoint, " << core::file_size(path) << " bytes\n"
            << "checkpoint: step:" << ckpt.step << " train_time:" << ckpt.elapsed_ms
            << "ms tensors:" << ckpt.tensors.size()
            << " model_tensors:" << train::with_prefix(ckpt.tensors, "model/").size()
            << " non_finite_tensors:" << count_non_finite(ckpt.tensors) << "\n";
  return kExitOk;
}

bool starts_like_zip(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[2] = {0, 0};
  in.read(head, 2);
  return in.gcount() == 2 && head[0] == 'P' && head[1] == 'K';
}

int run_inspect(const std::string& path) {
  if (starts_like_zip(path)) return inspect_archive(path);
  const auto q = quant::read_artifact(path);
  std::map<std::string, std::pair<int64_t, int64_t>> kinds;  // kind -> (tensors, bytes)
  std::map<std::string, int64_t> bytes;
  for (const auto& [name, t] : q.w) bytes[name] = static_cast<int64_t>(t.nbytes());
  for (const auto& [name, e] : q.meta) {
    auto& k = kinds[e.kind];
    k.first += 1;
    k.second += e.quantized() ? bytes[name + ".q"] + bytes[name + ".scale"] : bytes[name];
  }
  std::cout << path << ": " << core::file_size(path) << " bytes, " << q.meta.size()
            << " tensors, " << q.w.size() << " stored entries\n";
  for (const auto& [kind, k] : kinds)
    std::cout << core::format("  %-17s %4lld tensors %11lld bytes\n", kind.c_str(),
                              static_cast<long long>(k.first), static_cast<long long>(k.second));
  return kExitOk;
}

// While an export runs, SIGINT/SIGTERM/SIGHUP first delete the temporary file being written
// (write_file_atomic's), then end the process as the signal would (exit status 128 + N).
void on_export_signal(int sig) {
  core::remove_temp_files_in_flight();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

class ExportSignalScope {
 public:
  ExportSignalScope() {
    struct sigaction sa {};
    sa.sa_handler = on_export_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < std::size(kSignals); ++i) sigaction(kSignals[i], &sa, &old_[i]);
  }
  ~ExportSignalScope() {
    for (size_t i = 0; i < std::size(kSignals); ++i) sigaction(kSignals[i], &old_[i], nullptr);
  }
  ExportSignalScope(const ExportSignalScope&) = delete;
  ExportSignalScope& operator=(const ExportSignalScope&) = delete;

 private:
  static constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};
  struct sigaction old_[std::size(kSignals)] {};
};

// --out must not replace the weights it is made from (the artifact is lossy): the same file
// through a symlink or a hard link is refused too.
void check_not_input(const char* flag, const std::string& path, const std::string& checkpoint) {
  PGOLF_CHECK_INPUT(!core::same_file(checkpoint, path),
                    "pgolf export: " << flag << " " << path << " is the --checkpoint file "
                                     << checkpoint << " (same file); writing there would destroy "
                                     << "the full-precision weights: choose another " << flag);
}

// QUANT_SCHEME=gptq from a checkpoint: the model the config describes, with these weights, run
// over the calibration data (DATA_PATH/TRAIN_FILES as one rank, or GPTQ_AR_SELFGEN) on DEVICE.
// Looping on, as the trained model ends and is scored.
core::NamedTensors export_calibration(const config::Config& cfg, const core::NamedTensors& weights) {
  const bool use_cuda = cfg.train.device != config::Device::kCpu && torch::cuda::is_available();
  const torch::Device device = use_cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  const auto policy = model::resolve_dtype_policy(cfg.train.dtype, device);
  model::AnyGPT gpt(cfg.model);
  train::load_file_state_dict(gpt, weights);  // RECORD_BANKS files hold the record's banks
  gpt->to(device);
  gpt->set_dtype_policy(policy);
  gpt->set_looping(true);
  train::CalibrationSetup setup;
  if (!cfg.quant.gptq_ar_selfgen)
    setup.train_files = data::resolve_files(cfg.data.data_path, cfg.data.train_files);
  setup.world_size = 1;
  setup.grad_accum = config::grad_accum_steps(1);
  setup.device = device;
  auto logits = [&](const torch::Tensor& ids) {
    model::ComputeScope scope(policy, device.type());
    return gpt->forward_logits(ids);
  };
  std::cout << "export: gptq calibration on " << device.str() << " ("
            << (cfg.quant.gptq_ar_selfgen ? "self-generated sequences"
                                          : std::to_string(setup.train_files.size()) +
                                                " training shards")
            << ")" << std::endl;
  train::CalibrationReport rep;
  auto h = train::calibrate_gptq(gpt->module(), logits, gpt->state_dict(), cfg, setup, &rep);
  for (const auto& l : train::calibration_lines(rep, /*train_ms=*/-1, 0)) std::cout << l << "\n";
  return h;
}

int run_export(ExportArgs& a, const ConfigOptions& opts) {
  if (!a.inspect.empty()) {
    for (const auto& path : a.inspect) run_inspect(path);  // the first invalid file throws
    return kExitOk;
  }
  PGOLF_CHECK_INPUT(!a.checkpoint.empty() && !a.out.empty(),
                    "pgolf export: --checkpoint FILE and --out FILE are required (or --inspect FILE)");
  check_not_input("--out", a.out, a.checkpoint);
  if (!a.submission_json.empty()) check_not_input("--submission-json", a.submission_json, a.checkpoint);
  ExportSignalScope signals;
  // Temporary files of an earlier export of this output that was killed mid-write.
  const fs::path out_path(a.out);
  core::remove_stale_temp_files(out_path.has_parent_path() ? out_path.parent_path().string() : ".",
                                out_path.filename().string());
  const auto resolved = resolve_config(opts, /*world_size=*/1);
  const auto& qcfg = resolved.cfg.quant;
  const auto weights = load_weights(a.checkpoint);
  std::cout << "export: " << weights.size() << " tensors from " << a.checkpoint << " (scheme "
            << config::choice_name(qcfg.quant_scheme) << ", prune " << qcfg.prune_pct << ", "
            << config::choice_name(qcfg.compressor)
            << " level " << qcfg.zstd_level << ")" << std::endl;
  quant::ExportOptions eopts;
  eopts.threads = a.zstd_threads;
  core::NamedTensors hessians;
  if (qcfg.quant_scheme == config::QuantScheme::kGptq) {
    hessians = export_calibration(resolved.cfg, weights);
    eopts.hessians = &hessians;
  }
  quant::Budget budget;
  std::string code_note = "CODE_BYTES override";
  if (qcfg.code_bytes >= 0) {
    budget.code_bytes = qcfg.code_bytes;
  } else {
    const auto root = find_repo_root(a.repo_root);
    const auto cb = quant::measure_code_bytes(root, opts.files);
    budget.code_bytes = cb.compressed_bytes;
    code_note = core::format("zstd-22 ustar of %lld files, %lld source bytes, under %s",
                             static_cast<long long>(cb.files),
                             static_cast<long long>(cb.source_bytes), root.c_str());
  }
  eopts.code_bytes = budget.code_bytes;  // TARGET_MB counts them
  const auto report = quant::export_artifact(weights, qcfg, a.out, eopts);
  for (const auto& line : quant::report_lines(report)) std::cout << line << "\n";
  budget.model_bytes = report.compressed_bytes;
  std::cout << "model bytes: " << budget.model_bytes << "\n"
            << "code bytes:  " << budget.code_bytes << " (" << code_note << ")\n"
            << "total bytes: " << budget.total() << " of " << quant::kByteCap << " ("
            << (budget.over_cap() ? "OVER by " : "headroom ")
            << std::llabs(quant::kByteCap - budget.total()) << ")" << std::endl;
  if (!a.submission_json.empty()) {
    if (a.val_loss_opt->count()) a.info.val_loss = a.val_loss;
    if (a.val_bpb_opt->count()) a.info.val_bpb = a.val_bpb;
    quant::write_submission_json(a.submission_json, a.info, budget);
    std::cout << "wrote " << a.submission_json << "\n";
  }
  if (!a.allow_over_budget) quant::check_budget(budget);
  return kExitOk;
}

}  // namespace

Command register_export(CLI::App& app) {
  auto* sub = app.add_subcommand("export", "quantise, compress and budget-check an artifact");
  auto a = std::make_shared<ExportArgs>();
  auto opts = std::make_shared<ConfigOptions>();
  add_config_options(sub, *opts);
  sub->add_option("--checkpoint", a->checkpoint,
                  "state dict (torch.save / pgolf) or pgolf training checkpoint")
      ->check(CLI::ExistingFile);
  sub->add_option("--out", a->out, "artifact to write (e.g. final_model.int8.ptz)");
  sub->add_option("--inspect", a->inspect,
                  "validate and summarise existing artifacts, checkpoints or state dicts instead");
  sub->add_flag("--allow-over-budget", a->allow_over_budget,
                "exit 0 even when code + model bytes exceed 16,000,000");
  sub->add_option("--submission-json", a->submission_json, "write submission.json here");
  sub->add_option("--repo-root", a->repo_root, "source tree for code bytes (default: found)");
  sub->add_option("--zstd-threads", a->zstd_threads, "zstd worker threads (0: single-threaded)");
  sub->add_option("--name", a->info.name, "submission.json name");
  sub->add_option("--author", a->info.author, "submission.json author");
  sub->add_option("--github-id", a->info.github_id, "submission.json github_id");
  sub->add_option("--blurb", a->info.blurb, "submission.json blurb");
  sub->add_option("--date", a->info.date, "submission.json date (default: now, UTC)");
  a->val_loss_opt = sub->add_option("--val-loss", a->val_loss, "submission.json val_loss");
  a->val_bpb_opt = sub->add_option("--val-bpb", a->val_bpb, "submission.json val_bpb");
  return {sub, [a, opts]() { return run_export(*a, *opts); }};
}

}  // namespace pgolf::cli
