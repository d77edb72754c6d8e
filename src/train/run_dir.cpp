// Run directory creation and metadata (see run_dir.h).
#include "pgolf/train/run_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
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

namespace fs = std::filesystem;

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string hostname() {
  char buf[256] = {0};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
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

// ---- the folder lock --------------------------------------------------------------------------
// Who locks under torchrun or `pgolf launch`: the global rank 0 alone (cmd_train). The other
// ranks write nothing before the first collective, which cannot complete without rank 0; when
// rank 0 cannot lock it exits 2 and torchrun / the launcher stops the others. The launcher itself
// takes no lock (its rank 0 does), and the descriptor is close-on-exec, so no child inherits it.

RunLock::RunLock(const RunDir& dir) {
  const std::string path = dir.lock_file();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  PGOLF_CHECK_INPUT(fd >= 0, dir.path << ": cannot open the run folder's lock " << path << " ("
                                      << std::strerror(errno) << ")");
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char holder[128] = {0};
    const ssize_t n = ::pread(fd, holder, sizeof holder - 1, 0);
    ::close(fd);
    std::string who = n > 0 ? std::string(holder, static_cast<size_t>(n)) : "";
    while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
    PGOLF_CHECK_INPUT(err != EWOULDBLOCK,
                      "run folder " << dir.path << " is in use by another pgolf process"
                                    << (who.empty() ? std::string() : " (" + who + ")")
                                    << ": wait for it to end, or choose another RUN_ID");
    PGOLF_FAIL_INPUT(dir.path << ": cannot lock " << path << " (" << std::strerror(err) << ")");
  }
  // Informational only (the lock is the flock, not the contents): who holds the folder.
  const std::string who = "pid " + std::to_string(::getpid()) + " on " + hostname() + "\n";
  if (::ftruncate(fd, 0) == 0) {
    const ssize_t ignored = ::pwrite(fd, who.data(), who.size(), 0);
    (void)ignored;
  }
  fd_ = fd;
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

RunLock::RunLock(RunLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

RunLock& RunLock::operator=(RunLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

void prepare_new_run(const RunDir& dir, bool overwrite) {
  const bool finished = core::file_exists(dir.submission_json());
  const bool checkpoint = core::file_exists(dir.latest_checkpoint());
  const bool started = core::file_exists(dir.config_json());
  if (!overwrite) {
    PGOLF_CHECK_INPUT(!finished, dir.path << " holds a finished run (" << dir.submission_json()
                                          << "): pass --overwrite to replace it, --resume "
                                          << dir.path << " to redo its export and score, or "
                                          << "choose another RUN_ID");
    PGOLF_CHECK_INPUT(!checkpoint, dir.path << " already holds a checkpoint: use --resume "
                                            << dir.path << " to continue it, --overwrite to "
                                            << "start over, or choose another RUN_ID");
    PGOLF_CHECK_INPUT(!started, dir.path << " holds an earlier run (" << dir.config_json()
                                         << ", no checkpoint): pass --overwrite to replace it, "
                                         << "or choose another RUN_ID");
    return;
  }
  // Only the files a run writes: anything else a user keeps in the folder stays.
  std::error_code ec;
  for (const char* name : {"train.log", "metrics.jsonl", "config.json", "command.sh",
                           "resumes.jsonl", "final_model.pt", "final_model.int8.ptz", "eval.json",
                           "submission.json", "report.html", "charts", "code_config"})
    fs::remove_all(fs::path(dir.path) / name, ec);
  for (const auto& f : core::glob_sorted(dir.latest_checkpoint() + "*")) fs::remove(f, ec);
}

RunDir open_run_dir(const std::string& path) {
  RunDir dir{path};
  // Temporary files of a run killed mid-write; the final names always hold complete files.
  core::remove_stale_temp_files(dir.path);
  core::remove_stale_temp_files(dir.checkpoints());
  core::remove_stale_temp_files(dir.path + "/charts");
  core::remove_stale_temp_files(dir.code_config_dir());
  PGOLF_CHECK_INPUT(core::file_exists(dir.latest_checkpoint()),
                    path << ": cannot resume, expected a checkpoint at " << dir.latest_checkpoint()
                         << " but found none");
  return dir;
}

void write_run_metadata(const RunDir& dir, const nlohmann::json& resolved_dump,
                        const std::vector<std::string>& argv, const std::string& code_config) {
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
  core::write_file_atomic(dir.command_sh(), cmd);
  mkdir_p(dir.code_config_dir());
  if (!code_config.empty())
    core::write_file_atomic(dir.code_config_dir() + "/" + fs::path(code_config).filename().string(),
                            core::read_file(code_config));
}

namespace {

// "NAME=value " for every environment variable that set a config key of `dump` (the values of
// this process's environment), to put before argv in a command line.
std::string env_prefix(const nlohmann::json& dump, nlohmann::json* env_out) {
  std::string out;
  const nlohmann::json sources = dump.value("_sources", nlohmann::json::object());
  for (auto it = sources.begin(); it != sources.end(); ++it) {
    const std::string src = it->is_string() ? it->get<std::string>() : "";
    if (src.rfind("env ", 0) != 0) continue;
    const std::string name = src.substr(4);
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) continue;
    out += name + "=" + shell_quote(v) + " ";
    if (env_out) (*env_out)[name] = v;
  }
  return out;
}

void append_line(const std::string& path, const std::string& line) {
  // O_NOFOLLOW as train.log and metrics.jsonl (core/log.cpp): never append through a planted link.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
  PGOLF_CHECK_INPUT(fd >= 0, path << ": cannot open for appending ("
                                  << (errno == ELOOP ? "it is a symbolic link; remove it"
                                                     : std::strerror(errno))
                                  << ")");
  // One write of the whole line: O_APPEND keeps it in one piece; fsync before the run goes on.
  const ssize_t n = ::write(fd, line.data(), line.size());
  const int err = errno;
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  PGOLF_CHECK(n == static_cast<ssize_t>(line.size()) && synced,
              path << ": append failed (" << std::strerror(err) << ")");
}

}  // namespace

nlohmann::json config_changes(const nlohmann::json& before, const nlohmann::json& after) {
  nlohmann::json changes = nlohmann::json::object();
  const nlohmann::json sources = after.value("_sources", nlohmann::json::object());
  for (auto sec = after.begin(); sec != after.end(); ++sec) {
    if (sec.key().empty() || sec.key()[0] == '_' || !sec->is_object()) continue;
    const nlohmann::json old = before.value(sec.key(), nlohmann::json::object());
    for (auto leaf = sec->begin(); leaf != sec->end(); ++leaf) {
      const nlohmann::json from = old.is_object() && old.contains(leaf.key())
                                      ? old.at(leaf.key()) : nlohmann::json();
      if (from == *leaf) continue;
      changes[leaf.key()] = {{"from", from}, {"to", *leaf},
                             {"source", sources.value(leaf.key(), std::string("?"))}};
    }
  }
  return changes;
}

void record_resume(const RunDir& dir, const nlohmann::json& resolved_dump,
                   const std::vector<std::string>& argv) {
  const nlohmann::json before = nlohmann::json::parse(core::read_text_file(dir.config_json()));
  nlohmann::json entry = {{"time", utc_now()}, {"argv", argv}, {"env", nlohmann::json::object()},
                          {"versions", core::version_string()}};
  const std::string env = env_prefix(resolved_dump, &entry["env"]);
  entry["changes"] = config_changes(before, resolved_dump);
  append_line(dir.resumes_jsonl(), entry.dump() + "\n");

  // command.sh stays the first run's script; each resume is a dated comment line under it.
  std::string cmd = core::file_exists(dir.command_sh()) ? core::read_text_file(dir.command_sh()) : "";
  if (!cmd.empty() && cmd.back() != '\n') cmd += "\n";
  std::string line = "# resumed " + entry["time"].get<std::string>() + ": " + env;
  for (size_t i = 0; i < argv.size(); ++i) line += (i ? " " : "") + shell_quote(argv[i]);
  for (size_t i = 0; i < line.size(); ++i)  // a newline in a value must not end the comment
    if (line[i] == '\n' || line[i] == '\r') line.replace(i, 1, line[i] == '\n' ? "\\n" : "\\r");
  core::write_file_atomic(dir.command_sh(), cmd + line + "\n");

  // The resumed run's values, so a later --resume continues with them; a key the resume did not
  // change keeps the source it had (not "file <run>/config.json").
  nlohmann::json next = resolved_dump;
  const nlohmann::json old_sources = before.value("_sources", nlohmann::json::object());
  for (auto it = old_sources.begin(); it != old_sources.end(); ++it)
    if (!entry["changes"].contains(it.key())) next["_sources"][it.key()] = *it;
  next["_versions"] = before.contains("_versions") ? before.at("_versions")
                                                   : nlohmann::json(core::version_string());
  next["_resumes"] = before.value("_resumes", nlohmann::json::array());
  next["_resumes"].push_back(
      nlohmann::json{{"time", entry["time"]}, {"changes", entry["changes"]}});
  core::write_file_atomic(dir.config_json(), next.dump(2) + "\n");
}

std::string resumed_code_config(const RunDir& dir, const std::string& fallback) {
  if (!fs::is_directory(dir.code_config_dir())) return fallback;
  const auto files = core::glob_sorted(dir.code_config_dir() + "/*");
  return files.empty() ? std::string() : files.front();
}

}  // namespace pgolf::train
