// File helpers (see files.h). Atomic writes follow the write-temp/fsync/rename pattern.
#include "pgolf/core/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "pgolf/core/error.h"

namespace pgolf::core {

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  PGOLF_CHECK_INPUT(in.good(), path << ": cannot open for reading (" << std::strerror(errno) << ")");
  const std::streamsize size = in.tellg();
  in.seekg(0);
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  if (size > 0) in.read(reinterpret_cast<char*>(bytes.data()), size);
  PGOLF_CHECK_INPUT(in.good() || size == 0,
                    path << ": short read, expected " << size << " bytes, got " << in.gcount());
  return bytes;
}

std::string read_text_file(const std::string& path) {
  auto bytes = read_file(path);
  return std::string(bytes.begin(), bytes.end());
}

namespace {

// The temporary files being written now, for remove_temp_files_in_flight() in a signal handler:
// fixed slots (no allocation), claimed and released with atomics. A write that finds every slot
// taken still works, it is just not cleaned up by a signal.
constexpr int kInFlightSlots = 16;
constexpr size_t kInFlightPathMax = 4096;
struct InFlightSlot {
  std::atomic<int> state{0};  // 0 free, 1 being filled, 2 holds a path
  char path[kInFlightPathMax];
};
InFlightSlot g_in_flight[kInFlightSlots];

// Registers `tmp` for the lifetime of one write_file_atomic call.
class InFlight {
 public:
  explicit InFlight(const std::string& tmp) {
    if (tmp.size() >= kInFlightPathMax) return;
    for (auto& s : g_in_flight) {
      int expected = 0;
      if (!s.state.compare_exchange_strong(expected, 1)) continue;
      std::memcpy(s.path, tmp.c_str(), tmp.size() + 1);
      s.state.store(2);
      slot_ = &s;
      return;
    }
  }
  ~InFlight() {
    if (slot_ != nullptr) slot_->state.store(0);
  }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  InFlightSlot* slot_ = nullptr;
};

}  // namespace

void remove_temp_files_in_flight() {
  for (auto& s : g_in_flight)
    if (s.state.load() == 2) ::unlink(s.path);
}

void write_file_atomic(const std::string& path, const void* data, size_t size) {
  std::random_device rd;
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rd());
  const InFlight in_flight(tmp);  // registered before the file exists, released after rename
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  PGOLF_CHECK_INPUT(fd >= 0, path << ": cannot create temporary file " << tmp << " ("
                                  << std::strerror(errno) << ")");
  const auto* p = static_cast<const uint8_t*>(data);
  size_t left = size;
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      PGOLF_FAIL(path << ": write failed after " << (size - left) << " of " << size << " bytes ("
                      << std::strerror(err) << "); the previous file, if any, is untouched");
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    PGOLF_FAIL(path << ": fsync/close failed (" << std::strerror(err) << ")");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    PGOLF_FAIL(path << ": rename from " << tmp << " failed (" << std::strerror(err) << ")");
  }
}

int remove_stale_temp_files(const std::string& dir, const std::string& only) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return 0;
  int removed = 0;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    // <name>.tmp.<pid>.<digits>, as write_file_atomic (and data::write_shard) name them.
    const size_t tmp = name.rfind(".tmp.");
    if (tmp == std::string::npos || tmp == 0) continue;
    if (!only.empty() && name.compare(0, tmp, only) != 0) continue;
    const std::string rest = name.substr(tmp + 5);
    const size_t dot = rest.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == rest.size() ||
        rest.find_first_not_of("0123456789.") != std::string::npos ||
        rest.find('.', dot + 1) != std::string::npos)
      continue;
    const long pid = std::strtol(rest.substr(0, dot).c_str(), nullptr, 10);
    // kill(pid, 0) fails with ESRCH only when no such process exists (EPERM: alive, other user).
    if (pid <= 0 || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    if (::unlink((dir + "/" + name).c_str()) == 0) ++removed;
  }
  ::closedir(d);
  return removed;
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  if (::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0)
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  std::error_code ea, eb;
  const auto ca = std::filesystem::weakly_canonical(a, ea);
  const auto cb = std::filesystem::weakly_canonical(b, eb);
  return !ea && !eb && ca == cb;
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

uint64_t file_size(const std::string& path) {
  struct stat st {};
  PGOLF_CHECK_INPUT(::stat(path.c_str(), &st) == 0,
                    path << ": cannot stat (" << std::strerror(errno) << ")");
  return static_cast<uint64_t>(st.st_size);
}

std::vector<std::string> glob_sorted(const std::string& pattern) {
  glob_t g{};
  std::vector<std::string> out;
  if (::glob(pattern.c_str(), 0, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  }
  ::globfree(&g);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace pgolf::core
