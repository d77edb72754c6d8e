// Byte budget (see budget.h): the code archive recipe, the cap check and submission.json.
#include "pgolf/quant/budget.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "pgolf/core/error.h"
#include "pgolf/core/files.h"
#include "pgolf/quant/code_text.h"
#include "pgolf/quant/container.h"

namespace pgolf::quant {
namespace fs = std::filesystem;
namespace {

constexpr size_t kBlock = 512;
constexpr size_t kRecord = 20 * kBlock;  // GNU tar's default blocking factor

void put_octal(char* field, size_t width, uint64_t value) {
  // width-1 zero-padded octal digits and a NUL, as GNU tar writes ustar numbers.
  std::snprintf(field, width, "%0*llo", static_cast<int>(width - 1),
                static_cast<unsigned long long>(value));
}

// Splits a long name into ustar prefix (<= 155) and name (<= 100) at the last '/' that keeps the
// prefix within 155 characters, as GNU tar does.
std::pair<std::string, std::string> split_ustar_name(const std::string& full) {
  if (full.size() <= 100) return {"", full};
  const size_t slash = full.rfind('/', std::min<size_t>(full.size() - 1, 155));
  PGOLF_CHECK_INPUT(slash != std::string::npos && slash > 0 && full.size() - slash - 1 <= 100,
                    "code archive: path '" << full << "' does not fit a ustar header (name <= 100,"
                                           << " prefix <= 155 characters)");
  return {full.substr(0, slash), full.substr(slash + 1)};
}

void append_header(std::vector<char>& out, const std::string& name, uint64_t size) {
  char h[kBlock] = {};
  const auto [prefix, base] = split_ustar_name(name);
  std::memcpy(h, base.data(), base.size());
  put_octal(h + 100, 8, 0644);  // mode
  put_octal(h + 108, 8, 0);     // uid
  put_octal(h + 116, 8, 0);     // gid
  put_octal(h + 124, 12, size);
  put_octal(h + 136, 12, 0);    // mtime
  h[156] = '0';                 // regular file
  std::memcpy(h + 257, "ustar", 6);
  std::memcpy(h + 263, "00", 2);
  put_octal(h + 329, 8, 0);  // devmajor
  put_octal(h + 337, 8, 0);  // devminor
  std::memcpy(h + 345, prefix.data(), prefix.size());
  std::memset(h + 148, ' ', 8);  // the checksum is computed with its own field as spaces
  unsigned sum = 0;
  for (char c : h) sum += static_cast<unsigned char>(c);
  std::snprintf(h + 148, 8, "%06o", sum);  // "dddddd\0" then the space already there
  h[155] = ' ';
  out.insert(out.end(), h, h + kBlock);
}

}  // namespace

std::vector<ArchiveEntry> code_entries(const std::string& repo_root,
                                       const std::vector<std::string>& config_paths) {
  const fs::path root(repo_root);
  PGOLF_CHECK_INPUT(fs::is_regular_file(root / "CMakeLists.txt"),
                    "code bytes: " << repo_root << " has no CMakeLists.txt; pass the repository root");
  std::vector<ArchiveEntry> files = {{"CMakeLists.txt", (root / "CMakeLists.txt").string()}};
  const fs::path ex_file = root / kSubmissionExcludes;
  const auto excludes = fs::is_regular_file(ex_file)
                            ? parse_excludes(core::read_text_file(ex_file.string()))
                            : std::vector<std::string>{};
  for (const char* dir : {"src", "include", "cmake"}) {
    if (!fs::is_directory(root / dir)) continue;
    for (const auto& e : fs::recursive_directory_iterator(root / dir)) {
      PGOLF_CHECK_INPUT(!e.is_symlink(), "code bytes: " << e.path().string()
                                             << " is a symlink; the recipe counts regular files");
      if (!e.is_regular_file()) continue;
      const std::string rel = fs::relative(e.path(), root).generic_string();
      if (!excluded(rel, excludes)) files.push_back({rel, e.path().string()});
    }
  }
  std::sort(files.begin(), files.end(),
            [](const ArchiveEntry& a, const ArchiveEntry& b) { return a.name < b.name; });
  // Configs keep the order they were layered in; the position prefix keeps two files of the same
  // name (configs/X.json layered with configs/smoke/X.json) apart.
  for (size_t i = 0; i < config_paths.size(); ++i) {
    const std::string& p = config_paths[i];
    PGOLF_CHECK_INPUT(fs::is_regular_file(p), "code bytes: config file " << p << " not found");
    files.push_back({"config/" + std::to_string(i + 1) + "_" + fs::path(p).filename().string(), p});
  }
  return files;
}

std::string entry_bytes(const ArchiveEntry& e) {
  const std::string text = core::read_text_file(e.path);
  return strip_comments(text, comment_syntax(e.name), e.path);
}

std::vector<char> ustar_archive(const std::vector<ArchiveEntry>& entries) {
  std::vector<char> out;
  for (const auto& e : entries) {
    const std::string bytes = entry_bytes(e);
    append_header(out, e.name, bytes.size());
    out.insert(out.end(), bytes.begin(), bytes.end());
    out.resize((out.size() + kBlock - 1) / kBlock * kBlock, '\0');
  }
  out.resize(out.size() + 2 * kBlock, '\0');                     // end-of-archive marker
  out.resize((out.size() + kRecord - 1) / kRecord * kRecord, '\0');  // whole records
  return out;
}

CodeBytes measure_code_bytes(const std::string& repo_root,
                             const std::vector<std::string>& config_paths) {
  const auto entries = code_entries(repo_root, config_paths);
  CodeBytes cb;
  cb.files = static_cast<int64_t>(entries.size());
  for (const auto& e : entries) cb.source_bytes += static_cast<int64_t>(entry_bytes(e).size());
  const auto tar = ustar_archive(entries);
  cb.tar_bytes = static_cast<int64_t>(tar.size());
  CompressOptions opts;  // zstd 22, single-threaded, no checksum: `zstd -22 --ultra --no-check`
  opts.checksum = false;
  cb.compressed_bytes = static_cast<int64_t>(compress(tar, opts).size());
  return cb;
}

void check_budget(const Budget& b) {
  if (!b.over_cap()) return;
  PGOLF_CHECK_KIND(ErrorKind::kBudget, false,
                   "artifact over the byte cap: code " << b.code_bytes << " + model "
                                                       << b.model_bytes << " = " << b.total()
                                                       << " bytes > " << kByteCap << " (by "
                                                       << b.total() - kByteCap << " bytes)");
}

nlohmann::ordered_json submission_json(const SubmissionInfo& info, const Budget& budget) {
  std::string date = info.date;
  if (date.empty()) {
    const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    date = buf;
  }
  auto opt = [](const std::optional<double>& v) {
    return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json();
  };
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  j["name"] = info.name;
  j["author"] = info.author;
  j["github_id"] = info.github_id;
  j["blurb"] = info.blurb;
  j["date"] = date;
  j["val_loss"] = opt(info.val_loss);
  j["val_bpb"] = opt(info.val_bpb);
  j["bytes_total"] = budget.total();
  j["bytes_code"] = budget.code_bytes;
  j["bytes_model"] = budget.model_bytes;
  if (info.extra.is_object()) j.update(info.extra);
  return j;
}

void write_submission_json(const std::string& path, const SubmissionInfo& info,
                           const Budget& budget) {
  core::write_file_atomic(path, submission_json(info, budget).dump(2) + "\n");
}

}  // namespace pgolf::quant
