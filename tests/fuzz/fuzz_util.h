// Shared pieces of the fuzz targets (tests/fuzz/<reader>_fuzz.cpp). A reader fed arbitrary bytes
// must either succeed or throw pgolf::Error; any other exception, a crash or an abort is a
// finding. Built two ways (tests/fuzz/CMakeLists.txt): with libFuzzer (PGOLF_FUZZ=ON, clang) and,
// in the normal build, with replay_main.cpp, which runs the seed corpus plus deterministic
// mutations under ctest.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <typeinfo>
#include <vector>

#include "pgolf/core/error.h"

namespace pgolf::fuzz {

// Runs `fn`; pgolf::Error is the accepted way to reject an input. Anything else is reported and
// aborts, which both libFuzzer and the replay driver record as a finding.
template <class Fn>
void expect_success_or_error(const char* what, Fn&& fn) {
  try {
    fn();
  } catch (const pgolf::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "FINDING in %s: %s escaped instead of pgolf::Error: %s\n", what,
                 typeid(e).name(), e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "FINDING in %s: a non-std exception escaped\n", what);
    std::abort();
  }
}

// An anonymous in-memory file (memfd) reachable through a path (/proc/self/fd/N), so path-based
// readers can be fed fuzz bytes without touching the disk. One per target, reused per input.
class MemFile {
 public:
  MemFile() {
    fd_ = static_cast<int>(::memfd_create("pgolf_fuzz", MFD_CLOEXEC));
    if (fd_ < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { ::close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;

  // Replaces the contents with `size` bytes; returns the path.
  const std::string& set(const uint8_t* data, size_t size) {
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, data, size, 0) != static_cast<ssize_t>(size)) {
      std::perror("memfd write");
      std::abort();
    }
    return path_;
  }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

inline std::vector<char> as_chars(const uint8_t* data, size_t size) {
  return std::vector<char>(reinterpret_cast<const char*>(data),
                           reinterpret_cast<const char*>(data) + size);
}

}  // namespace pgolf::fuzz
