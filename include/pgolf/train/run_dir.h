// The run directory (design.md §6): config.json (resolved values, sources, versions, resumes),
// command.sh, resumes.jsonl, train.log, metrics.jsonl, checkpoints/, the artifact, eval.json,
// submission.json, code_config/ (the config counted as code) and run.lock (the folder's lock).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pgolf::train {

struct RunDir {
  std::string path;
  std::string log() const { return path + "/train.log"; }
  std::string metrics() const { return path + "/metrics.jsonl"; }
  std::string checkpoints() const { return path + "/checkpoints"; }
  std::string latest_checkpoint() const { return checkpoints() + "/latest.pt"; }
  std::string artifact() const { return path + "/final_model.int8.ptz"; }
  std::string eval_json() const { return path + "/eval.json"; }
  std::string submission_json() const { return path + "/submission.json"; }
  std::string config_json() const { return path + "/config.json"; }
  std::string command_sh() const { return path + "/command.sh"; }
  std::string resumes_jsonl() const { return path + "/resumes.jsonl"; }
  std::string lock_file() const { return path + "/run.lock"; }
  // A copy of the config file the first run counted as code bytes (same name, same bytes), so
  // that every resume counts what the original run counted.
  std::string code_config_dir() const { return path + "/code_config"; }
};

// An exclusive flock(2) on <run>/run.lock, held while the object lives; the kernel drops it when
// the process ends, SIGKILL included, so a crashed run never leaves the folder locked.
class RunLock {
 public:
  RunLock() = default;
  // Takes the lock without waiting (creating run.lock); an input error naming the folder and the
  // process that holds it when another one does.
  explicit RunLock(const RunDir& dir);
  ~RunLock();
  RunLock(RunLock&& other) noexcept;
  RunLock& operator=(RunLock&& other) noexcept;
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// For a new (not resumed) run in `dir`: an input error naming the folder and the flag when it
// already holds a run (config.json, a checkpoint or a finished run's submission.json), unless
// `overwrite`, which deletes that run's files (logs, checkpoints, artifacts, reports) first.
void prepare_new_run(const RunDir& dir, bool overwrite);

// A fresh run id: UTC timestamp plus 8 random hex digits (the reference uses a UUID4).
std::string new_run_id();
// Creates <out_dir>/<run_id>/ and checkpoints/ (mkdir -p); an input error names what failed.
RunDir create_run_dir(const std::string& out_dir, const std::string& run_id);
// Opens an existing run directory for --resume; checks that it holds a checkpoint and deletes
// temporary files left by a process killed mid-write (core::remove_stale_temp_files).
RunDir open_run_dir(const std::string& path);
// Writes config.json (the `pgolf config --dump` JSON plus "_versions"), command.sh (argv,
// shell-quoted, with the environment variables that set config values) and code_config/ (a copy
// of `code_config`, the config file counted as code; none when empty).
void write_run_metadata(const RunDir& dir, const nlohmann::json& resolved_dump,
                        const std::vector<std::string>& argv, const std::string& code_config = "");

// The values that differ between two `pgolf config --dump` JSONs: {leaf: {"from", "to",
// "source"}} (source: where the new value came from); keys starting with '_' are ignored.
nlohmann::json config_changes(const nlohmann::json& before, const nlohmann::json& after);
// Records a --resume: appends {time, argv, env, changes, versions} to resumes.jsonl and a dated
// comment line to command.sh, and rewrites config.json with the values the resumed run uses
// (unchanged keys keep their first source; "_resumes" lists every resume's changes, whose
// "from" values are the earlier run's), so the next --resume continues with them.
void record_resume(const RunDir& dir, const nlohmann::json& resolved_dump,
                   const std::vector<std::string>& argv);
// The config file to count as code bytes for a resumed run: the first run's copy in
// code_config/ ("" when it counted none), or `fallback` for a folder made before code_config/.
std::string resumed_code_config(const RunDir& dir, const std::string& fallback);

}  // namespace pgolf::train
