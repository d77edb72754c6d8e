// lrzip as a subprocess (pergroup.h): the one external program pgolf runs, because Debian ships
// lrzip as a program only. Inputs and outputs go through files in a private mkdtemp folder that
// is removed afterwards; lrzip's own messages are kept for the error text.
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "pgolf/core/error.h"
#include "pgolf/core/files.h"
#include "pgolf/quant/pergroup.h"

extern char** environ;

namespace pgolf::quant {
namespace {

constexpr const char* kMissing =
    "the pergroup compressor needs the lrzip program (Debian package lrzip: apt-get install "
    "lrzip; scripts/setup.sh installs it), and none was found on PATH";

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "pgolf_lrz_XXXXXX").string();
    PGOLF_CHECK(::mkdtemp(pattern.data()) != nullptr,
                "lrzip: cannot create a temporary folder " << pattern << ": " << std::strerror(errno));
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const char* name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write_bytes(const std::string& path, const std::vector<char>& data) {
  std::ofstream f(path, std::ios::binary);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  PGOLF_CHECK(f.good(), "lrzip: cannot write " << path);
}

std::vector<char> read_bytes(const std::string& path) {
  const auto raw = core::read_file(path);
  return std::vector<char>(raw.begin(), raw.end());
}

// Runs lrzip with `args`, stdout and stderr into `log`; returns the exit status text on failure.
void run_lrzip(const std::vector<std::string>& args, const std::string& log,
               const std::string& what) {
  const std::string prog = lrzip_program();
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>("lrzip"));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, prog.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  PGOLF_CHECK(rc == 0, what << ": cannot start " << prog << ": " << std::strerror(rc));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    PGOLF_CHECK(errno == EINTR, what << ": waitpid for lrzip failed: " << std::strerror(errno));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  std::string msg;
  try {
    msg = core::read_text_file(log);
  } catch (const std::exception&) {
  }
  if (msg.size() > 400) msg = msg.substr(msg.size() - 400);
  PGOLF_FAIL(what << ": lrzip " << args.front() << " failed ("
                  << (WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                        : "signal " + std::to_string(WTERMSIG(status)))
                  << "): " << msg);
}

}  // namespace

std::string lrzip_program() {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    const size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string dir = dirs.substr(start, end - start);
    const std::string cand = (dir.empty() ? std::string(".") : dir) + "/lrzip";
    if (::access(cand.c_str(), X_OK) == 0) return cand;
    start = end + 1;
  }
  PGOLF_FAIL(kMissing);
}

std::vector<char> lrzip_compress(const std::vector<char>& data) {
  TempDir dir;
  const auto in = dir.file("group.bin"), out = dir.file("group.bin.lrz");
  write_bytes(in, data);
  run_lrzip({"-z", "-L", "9", "-o", out, in}, dir.file("log"), "pergroup compression");
  return read_bytes(out);
}

std::vector<char> lrzip_decompress(const std::vector<char>& data, const std::string& what) {
  TempDir dir;
  const auto in = dir.file("group.lrz"), out = dir.file("group.bin");
  write_bytes(in, data);
  run_lrzip({"-d", "-f", "-o", out, in}, dir.file("log"), what);
  return read_bytes(out);
}

}  // namespace pgolf::quant
