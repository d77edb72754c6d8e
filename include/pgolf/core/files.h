// File helpers: whole-file reads with clear errors, and crash-safe writes (temp file, fsync, rename).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pgolf::core {

// Reads a whole file; throws an input error naming the path when it cannot.
std::vector<uint8_t> read_file(const std::string& path);
std::string read_text_file(const std::string& path);

// Writes `bytes` to `path` atomically: a sibling temp file is written, flushed with fsync and renamed
// over `path`, so readers see either the old complete file or the new complete file.
void write_file_atomic(const std::string& path, const void* data, size_t size);
inline void write_file_atomic(const std::string& path, const std::string& text) {
  write_file_atomic(path, text.data(), text.size());
}
inline void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes) {
  write_file_atomic(path, bytes.data(), bytes.size());
}

// Deletes the temporary files write_file_atomic leaves behind when its process is killed mid-write
// (`<name>.tmp.<pid>.<n>` in `dir` whose pid is no longer alive on this host); returns how many.
// A non-empty `name` limits it to the temporary files of `dir/name`.
int remove_stale_temp_files(const std::string& dir, const std::string& name = "");
// Unlinks the temporary files that write_file_atomic calls of this process are writing right now.
// Async-signal-safe: for a signal handler that is about to end the process.
void remove_temp_files_in_flight();

// True when both paths name the same file: the same st_dev/st_ino (symlinks followed, hard links
// included), or, when `b` does not exist yet, the same canonical path as `a`.
bool same_file(const std::string& a, const std::string& b);

bool file_exists(const std::string& path);
uint64_t file_size(const std::string& path);
// Sorted list of paths matching a shell glob (e.g. ".../fineweb_train_*.bin"); empty if none.
std::vector<std::string> glob_sorted(const std::string& pattern);

}  // namespace pgolf::core
