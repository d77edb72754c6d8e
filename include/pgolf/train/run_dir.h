// The run directory (design.md §6): config.json (resolved values, sources, versions), command.sh,
// train.log, metrics.jsonl, checkpoints/, the artifact, eval.json, submission.json.
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
};

// A fresh run id: UTC timestamp plus 8 random hex digits (the reference uses a UUID4).
std::string new_run_id();
// Creates <out_dir>/<run_id>/ and checkpoints/ (mkdir -p); an input error names what failed.
RunDir create_run_dir(const std::string& out_dir, const std::string& run_id);
// Opens an existing run directory for --resume; checks that it holds a checkpoint and deletes
// temporary files left by a process killed mid-write (core::remove_stale_temp_files).
RunDir open_run_dir(const std::string& path);
// Writes config.json (the `pgolf config --dump` JSON plus "_versions") and command.sh (argv,
// shell-quoted, with the environment variables that set config values).
void write_run_metadata(const RunDir& dir, const nlohmann::json& resolved_dump,
                        const std::vector<std::string>& argv);

}  // namespace pgolf::train
