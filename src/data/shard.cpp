// Shard reader/writer (reference-spec §2.3). The reader checks what the reference's
// load_data_shard checks (header size, magic, version, exact file size) and names the file and
// the numbers in every error. The loader reads tokens with pread (a shard truncated under a
// running job is then a clear error, not a SIGBUS from a memory map); tokens() maps the file.
#include "pgolf/data/shard.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "pgolf/core/error.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "shards store little-endian uint16 tokens that are read in place");

namespace pgolf::data {
namespace {

// Closes a POSIX file descriptor when it leaves scope.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

int32_t load_le32(const uint8_t* p) {
  return static_cast<int32_t>(uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 |
                              uint32_t{p[3]} << 24);
}

void store_le32(uint8_t* p, int32_t v) {
  const auto u = static_cast<uint32_t>(v);
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(u >> (8 * i));
}

int open_for_read(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  PGOLF_CHECK_INPUT(fd >= 0, "shard " << path << ": cannot open (" << std::strerror(errno) << ")");
  return fd;
}

// Validates the header and the size of an open shard.
ShardInfo validate(const std::string& path, int fd) {
  struct stat st {};
  PGOLF_CHECK_INPUT(::fstat(fd, &st) == 0,
                    "shard " << path << ": cannot stat (" << std::strerror(errno) << ")");
  ShardInfo info;
  info.path = path;
  info.file_bytes = static_cast<uint64_t>(st.st_size);
  PGOLF_CHECK_INPUT(info.file_bytes >= static_cast<uint64_t>(kShardHeaderBytes),
                    "shard " << path << ": truncated header, expected at least "
                             << kShardHeaderBytes << " bytes (256 int32), found " << info.file_bytes
                             << " bytes");
  uint8_t header[kShardHeaderBytes];
  const ssize_t got = ::pread(fd, header, sizeof(header), 0);
  PGOLF_CHECK_INPUT(got == kShardHeaderBytes, "shard " << path << ": short read of the header, "
                                                       << "expected " << kShardHeaderBytes
                                                       << " bytes, got " << got);
  info.magic = load_le32(header);
  info.version = load_le32(header + 4);
  const int32_t count = load_le32(header + 8);
  PGOLF_CHECK_INPUT(info.magic == kShardMagic, "shard " << path << ": bad magic, expected "
                                                        << kShardMagic << ", found " << info.magic
                                                        << " (not a token shard?)");
  PGOLF_CHECK_INPUT(info.version == kShardVersion, "shard " << path << ": unsupported version, "
                                                            << "expected " << kShardVersion
                                                            << ", found " << info.version);
  PGOLF_CHECK_INPUT(count >= 0,
                    "shard " << path << ": negative token count " << count << " in the header");
  info.num_tokens = count;
  const uint64_t expected = static_cast<uint64_t>(kShardHeaderBytes) + 2 * uint64_t(count);
  PGOLF_CHECK_INPUT(info.file_bytes >= expected,
                    "shard " << path << ": short file, header says " << count
                             << " tokens so expected " << expected << " bytes (1024 + 2*" << count
                             << "), found " << info.file_bytes << " ("
                             << (expected - info.file_bytes) << " bytes missing)");
  PGOLF_CHECK_INPUT(info.file_bytes == expected,
                    "shard " << path << ": size mismatch, header says " << count
                             << " tokens so expected " << expected << " bytes (1024 + 2*" << count
                             << "), found " << info.file_bytes << " ("
                             << (info.file_bytes - expected) << " extra bytes)");
  return info;
}

void write_all(int fd, const void* data, size_t size, const std::string& path,
               const std::string& tmp) {
  const auto* p = static_cast<const uint8_t*>(data);
  size_t left = size;
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::unlink(tmp.c_str());
      PGOLF_FAIL("shard " << path << ": write failed (" << std::strerror(err)
                          << "); the previous file, if any, is untouched");
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace

ShardInfo read_shard_info(const std::string& path) {
  Fd fd{open_for_read(path)};
  return validate(path, fd.fd);
}

ShardReader::ShardReader(const std::string& path) {
  Fd fd{open_for_read(path)};
  info_ = validate(path, fd.fd);
  map_bytes_ = static_cast<size_t>(info_.file_bytes);
  void* m = ::mmap(nullptr, map_bytes_, PROT_READ, MAP_PRIVATE, fd.fd, 0);
  PGOLF_CHECK_INPUT(m != MAP_FAILED, "shard " << path << ": mmap of " << map_bytes_
                                              << " bytes failed (" << std::strerror(errno) << ")");
  map_ = m;
  fd_ = fd.fd;  // kept open for read_tokens
  fd.fd = -1;
  // The stream reads each shard front to back once per pass.
  ::madvise(map_, map_bytes_, MADV_SEQUENTIAL);
  tokens_ =
      reinterpret_cast<const uint16_t*>(static_cast<const uint8_t*>(map_) + kShardHeaderBytes);
}

ShardReader::~ShardReader() { release(); }

ShardReader::ShardReader(ShardReader&& other) noexcept { *this = std::move(other); }

ShardReader& ShardReader::operator=(ShardReader&& other) noexcept {
  if (this != &other) {
    release();
    info_ = std::move(other.info_);
    fd_ = other.fd_;
    map_ = other.map_;
    map_bytes_ = other.map_bytes_;
    tokens_ = other.tokens_;
    other.fd_ = -1;
    other.map_ = nullptr;
    other.map_bytes_ = 0;
    other.tokens_ = nullptr;
  }
  return *this;
}

int32_t ShardReader::header_word(int64_t i) const {
  PGOLF_CHECK(map_ != nullptr && i >= 0 && i < kShardHeaderInts,
              "shard " << info_.path << ": header word " << i << " outside [0, 256) or not open");
  return load_le32(static_cast<const uint8_t*>(map_) + 4 * i);
}

void ShardReader::read_tokens(int64_t first, int64_t count, uint16_t* dst) const {
  PGOLF_CHECK(fd_ >= 0 && first >= 0 && count >= 0 && first + count <= info_.num_tokens,
              "shard " << info_.path << ": tokens [" << first << ", " << first + count
                       << ") outside [0, " << info_.num_tokens << ") or not open");
  auto* p = reinterpret_cast<uint8_t*>(dst);
  size_t left = static_cast<size_t>(count) * 2;
  off_t off = static_cast<off_t>(kShardHeaderBytes + 2 * first);
  while (left > 0) {
    const ssize_t n = ::pread(fd_, p, left, off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      PGOLF_FAIL_INPUT("shard " << info_.path << ": read of " << left << " bytes at offset " << off
                                << " failed (" << std::strerror(errno) << ")");
    if (n == 0) {
      struct stat st {};
      const long long now = ::fstat(fd_, &st) == 0 ? static_cast<long long>(st.st_size) : -1;
      PGOLF_FAIL_INPUT("shard " << info_.path << ": file shrank while in use: it had "
                                << info_.file_bytes << " bytes (" << info_.num_tokens
                                << " tokens), now " << now << "; token "
                                << (off - kShardHeaderBytes) / 2 << " onwards cannot be read "
                                << "(was it truncated or rewritten in place?)");
    }
    p += n;
    off += n;
    left -= static_cast<size_t>(n);
  }
}

void ShardReader::release() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (map_ != nullptr) ::munmap(map_, map_bytes_);
  map_ = nullptr;
  map_bytes_ = 0;
  tokens_ = nullptr;
}

void write_shard(const std::string& path, const uint16_t* tokens, int64_t count) {
  PGOLF_CHECK_INPUT(count >= 0 && count <= kShardMaxTokens,
                    "shard " << path << ": cannot store " << count << " tokens, the header "
                             << "holds at most " << kShardMaxTokens);
  uint8_t header[kShardHeaderBytes] = {};
  store_le32(header, kShardMagic);
  store_le32(header + 4, kShardVersion);
  store_le32(header + 8, static_cast<int32_t>(count));

  std::random_device rd;
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rd());
  Fd fd{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
  PGOLF_CHECK_INPUT(fd.fd >= 0, "shard " << path << ": cannot create temporary file " << tmp << " ("
                                         << std::strerror(errno) << ")");
  write_all(fd.fd, header, sizeof(header), path, tmp);
  write_all(fd.fd, tokens, static_cast<size_t>(count) * 2, path, tmp);
  const bool synced = ::fsync(fd.fd) == 0;
  const bool closed = ::close(fd.fd) == 0;
  fd.fd = -1;
  if (!synced || !closed) {
    const int err = errno;
    ::unlink(tmp.c_str());
    PGOLF_FAIL("shard " << path << ": fsync/close failed (" << std::strerror(err) << ")");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    PGOLF_FAIL("shard " << path << ": rename from " << tmp << " failed (" << std::strerror(err)
                        << ")");
  }
}

std::vector<uint16_t> read_shard(const std::string& path) {
  ShardReader reader(path);
  std::vector<uint16_t> out(static_cast<size_t>(reader.num_tokens()));
  reader.read_tokens(0, reader.num_tokens(), out.data());
  return out;
}

ShardStats shard_stats(const ShardReader& shard, int bos_id) {
  ShardStats st;
  const uint16_t* t = shard.tokens();
  const int64_t n = shard.num_tokens();
  if (n > 0) st.min_id = st.max_id = t[0];
  for (int64_t i = 0; i < n; ++i) {
    st.min_id = std::min<int64_t>(st.min_id, t[i]);
    st.max_id = std::max<int64_t>(st.max_id, t[i]);
    st.bos_count += t[i] == bos_id;
  }
  for (int64_t w = 3; w < kShardHeaderInts; ++w)
    st.nonzero_header_words += shard.header_word(w) != 0;
  return st;
}

}  // namespace pgolf::data
