// Token shard files in the reference format (reference-spec §2.3): a 256 x int32 little-endian
// header {20240520, 1, num_tokens, 0...} followed by num_tokens uint16 little-endian tokens.
// Reading is validated; writing goes through a temp file + rename.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pgolf::data {

constexpr int32_t kShardMagic = 20240520;
constexpr int32_t kShardVersion = 1;
constexpr int64_t kShardHeaderInts = 256;
constexpr int64_t kShardHeaderBytes = kShardHeaderInts * 4;  // 1024
constexpr int64_t kShardMaxTokens = (int64_t{1} << 31) - 1;  // header stores an int32 count

// Header facts of a shard without mapping its tokens (validates exactly like ShardReader).
struct ShardInfo {
  std::string path;
  int32_t magic = 0;
  int32_t version = 0;
  int64_t num_tokens = 0;
  uint64_t file_bytes = 0;
};
ShardInfo read_shard_info(const std::string& path);

// A validated, read-only shard. Move-only; closes and unmaps on destruction. read_tokens() reads
// with pread and checks every read, so a shard truncated while open is an input error naming the
// file; tokens() is a memory map, where such a truncation would raise SIGBUS (inspection only).
class ShardReader {
 public:
  ShardReader() = default;
  explicit ShardReader(const std::string& path);
  ~ShardReader();
  ShardReader(ShardReader&& other) noexcept;
  ShardReader& operator=(ShardReader&& other) noexcept;
  ShardReader(const ShardReader&) = delete;
  ShardReader& operator=(const ShardReader&) = delete;

  const std::string& path() const { return info_.path; }
  const ShardInfo& info() const { return info_; }
  int64_t num_tokens() const { return info_.num_tokens; }
  // Pointer to the num_tokens tokens (valid while this reader lives).
  const uint16_t* tokens() const { return tokens_; }
  uint16_t operator[](int64_t i) const { return tokens_[i]; }
  int32_t header_word(int64_t i) const;  // i in [0, 256)
  // Copies tokens [first, first + count) into dst; input error if the file no longer holds them.
  void read_tokens(int64_t first, int64_t count, uint16_t* dst) const;

 private:
  void release();
  ShardInfo info_;
  int fd_ = -1;
  void* map_ = nullptr;
  size_t map_bytes_ = 0;
  const uint16_t* tokens_ = nullptr;
};

// Writes a shard atomically (sibling temp file, fsync, rename). Fails for more than
// kShardMaxTokens tokens.
void write_shard(const std::string& path, const uint16_t* tokens, int64_t count);
inline void write_shard(const std::string& path, const std::vector<uint16_t>& tokens) {
  write_shard(path, tokens.data(), static_cast<int64_t>(tokens.size()));
}

// Whole shard copied into memory (tests, inspection).
std::vector<uint16_t> read_shard(const std::string& path);

// Token statistics of a shard for `pgolf data inspect`.
struct ShardStats {
  int64_t min_id = 0, max_id = 0;    // 0/0 for an empty shard
  int64_t bos_count = 0;             // tokens equal to bos_id, i.e. documents starting here
  int64_t nonzero_header_words = 0;  // header words 3..255 are zero when written by us
};
ShardStats shard_stats(const ShardReader& shard, int bos_id);

}  // namespace pgolf::data
