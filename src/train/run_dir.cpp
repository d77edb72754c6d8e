// Run directory creation and metadata (see run_dir.h).
#include "pgolf/train/run_dir.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <random>
#include <sstream>

#include "pgolf/config/resolve.h"
#include "pgolf/core/error.h"
#include "pgolf/core/files.h"
#include "pgolf/core/runtime.h"

namespace pgolf::train {
namespace {

void mkdir_p(const std::string& path) {
  std::string cur;
  std::stringstream ss(path);
  std::string part;
  if (!path.empty() && path[0] == '/') cur = "/";
  while (std::getline(ss, part, '/')) {
    if (part.empty()) continue;
    cur += part + "/";
    if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
      PGOLF_FAIL_INPUT(path << ": cannot create directory " << cur << " (" << std::strerror(errno)
                            << ")");
  }
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789_-./=:,+@%") == std::string::npos)
    return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

std::string new_run_id() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d_%H%M%S", std::gmtime(&t));
  std::random_device rd;
  char hex[16];
  std::snprintf(hex, sizeof hex, "%08x", rd());
  return std::string(buf) + "_" + hex;
}

RunDir create_run_dir(const std::string& out_dir, const std::string& run_id) {
  PGOLF_CHECK_INPUT(run_id.find('/') == std::string::npos && run_id != "." && run_id != "..",
                    "run_id '" << run_id << "': expected a plain folder name");
  RunDir dir{out_dir + "/" + run_id};
  mkdir_p(dir.checkpoints());
  return dir;
}

RunDir open_run_dir(const std::string& path) {
  RunDir dir{path};
  // Temporary files of a run killed mid-write; the final names always hold complete files.
  core::remove_stale_temp_files(dir.path);
  core::remove_stale_temp_files(dir.checkpoints());
  core::remove_stale_temp_files(dir.path + "/charts");
  PGOLF_CHECK_INPUT(core::file_exists(dir.latest_checkpoint()),
                    path << ": cannot resume, expected a checkpoint at " << dir.latest_checkpoint()
                         << " but found none");
  return dir;
}

void write_run_metadata(const RunDir& dir, const nlohmann::json& resolved_dump,
                        const std::vector<std::string>& argv) {
  // Same shape as `pgolf config --dump`, so the file is a valid --config for --resume.
  nlohmann::json j = resolved_dump;
  j["_versions"] = core::version_string();
  core::write_file_atomic(dir.config_json(), j.dump(2) + "\n");

  std::string cmd = "#!/usr/bin/env bash\n# Reproduces this run (environment values that set config keys, then argv).\n";
  const nlohmann::json sources = j.value("_sources", nlohmann::json::object());
  for (auto it = sources.begin(); it != sources.end(); ++it) {
    const std::string src = it->get<std::string>();
    if (src.rfind("env ", 0) != 0) continue;
    const std::string name = src.substr(4);
    if (const char* v = std::getenv(name.c_str())) cmd += "export " + name + "=" + shell_quote(v) + "\n";
  }
  for (size_t i = 0; i < argv.size(); ++i) cmd += (i ? " " : "") + shell_quote(argv[i]);
  cmd += "\n";
  core::write_file_atomic(dir.path + "/command.sh", cmd);
}

}  // namespace pgolf::train
