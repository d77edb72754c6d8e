// The byte budget (reference-spec §1, §7.2, §11.2): bytes_total = code bytes + compressed model
// bytes against the decimal 16,000,000 cap, and the submission.json writer.
//
// Code bytes of a C++ submission (recipe also in scripts/code_bytes.sh and README "Code bytes"):
// the regular files under src/, include/ and cmake/ plus CMakeLists.txt (paths relative to the
// repo root, '/'-separated, sorted bytewise) except the prefixes listed in
// cmake/submission_excludes.txt (what a PGOLF_SUBMISSION=ON build leaves out), each with its
// comments stripped (code_text.h), then the config files in layering order as
// "config/<i>_<basename>" (i = 1, 2, ...), packed as an uncompressed POSIX ustar archive (mode 0644, uid/gid 0, empty user/group names, mtime 0,
// typeflag '0', no directory entries, two zero blocks, padded to 10240 bytes: byte-identical to
// `tar --format=ustar --no-recursion --owner=0 --group=0 --numeric-owner --mtime=@0 --mode=0644`
// on that list), compressed with zstd level 22 single-threaded without checksum. Code bytes are
// the size of that zstd frame.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pgolf::quant {

constexpr int64_t kByteCap = 16000000;  // decimal 16 MB, not 16 MiB

struct ArchiveEntry {
  std::string name;  // name inside the archive
  std::string path;  // file on disk
};

constexpr const char* kSubmissionExcludes = "cmake/submission_excludes.txt";

// The entries above for `repo_root` and the given config files, in archive order.
std::vector<ArchiveEntry> code_entries(const std::string& repo_root,
                                       const std::vector<std::string>& config_paths);
// The bytes an entry is counted with: the file with its comments stripped (by the entry's name).
std::string entry_bytes(const ArchiveEntry& e);
// Deterministic ustar archive of the entries (names must fit ustar's 100+155 limits).
std::vector<char> ustar_archive(const std::vector<ArchiveEntry>& entries);

struct CodeBytes {
  int64_t files = 0;
  int64_t source_bytes = 0;  // sum of the counted (comment-stripped) file sizes
  int64_t tar_bytes = 0;
  int64_t compressed_bytes = 0;  // the counted code bytes
};
CodeBytes measure_code_bytes(const std::string& repo_root,
                             const std::vector<std::string>& config_paths);

struct Budget {
  int64_t code_bytes = 0;
  int64_t model_bytes = 0;
  int64_t total() const { return code_bytes + model_bytes; }
  bool over_cap() const { return total() > kByteCap; }
};

// Throws pgolf::Error kBudget (CLI exit 3) naming the three numbers when over the cap.
void check_budget(const Budget& budget);

struct SubmissionInfo {
  std::string name, author, github_id, blurb;
  std::string date;  // ISO-8601 UTC; empty: now
  std::optional<double> val_loss, val_bpb;
  // Merged last (seeds, per-seed results, pre-quant metrics, ...).
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
};

// parameter-golf fields: name, author, github_id, blurb, date, val_loss, val_bpb (its own field,
// null when unknown), bytes_total, bytes_code, bytes_model.
nlohmann::ordered_json submission_json(const SubmissionInfo& info, const Budget& budget);
void write_submission_json(const std::string& path, const SubmissionInfo& info,
                           const Budget& budget);

}  // namespace pgolf::quant
