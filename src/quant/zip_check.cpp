// Zip archive check for torch.save files (see zip_check.h). Field offsets follow the PKWARE
// APPNOTE: EOCD "PK\5\6", zip64 locator "PK\6\7" / record "PK\6\6", central entry "PK\1\2", local
// header "PK\3\4".
#include "pgolf/quant/zip_check.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "pgolf/core/error.h"

namespace pgolf::quant {
namespace {

class Reader {
 public:
  Reader(const std::vector<char>& b, const std::string& what) : b_(b), what_(what) {}

  uint64_t u(uint64_t off, int bytes, const char* field) const {
    // Not off + bytes <= size: a zip64 offset near 2^64 wraps that sum (found by tests/fuzz).
    PGOLF_CHECK_INPUT(off <= b_.size() && static_cast<uint64_t>(bytes) <= b_.size() - off,
                      what_ << ": corrupt torch archive (" << field << " at offset " << off
                            << " is past the end of the " << b_.size() << "-byte archive)");
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b_[off + i]);
    return v;
  }
  void expect_sig(uint64_t off, uint32_t sig, const char* record) const {
    PGOLF_CHECK_INPUT(u(off, 4, record) == sig, what_ << ": corrupt torch archive (no " << record
                                                      << " signature at offset " << off << ")");
  }
  size_t size() const { return b_.size(); }
  const char* data() const { return b_.data(); }

 private:
  const std::vector<char>& b_;
  const std::string& what_;
};

struct Directory {
  uint64_t entries = 0, offset = 0, size = 0;
};

Directory find_directory(const Reader& r, const std::string& what) {
  PGOLF_CHECK_INPUT(r.size() >= 22, what << ": corrupt torch archive (" << r.size()
                                         << " bytes, too short for a zip file)");
  // The EOCD is the last record; only a trailing comment (<= 65535 bytes) may follow it.
  int64_t eocd = -1;
  const int64_t lowest = std::max<int64_t>(0, static_cast<int64_t>(r.size()) - 22 - 65535);
  for (int64_t p = static_cast<int64_t>(r.size()) - 22; p >= lowest; --p)
    if (std::memcmp(r.data() + p, "PK\x05\x06", 4) == 0) {
      eocd = p;
      break;
    }
  PGOLF_CHECK_INPUT(eocd >= 0, what << ": corrupt torch archive (no end-of-central-directory "
                                       "record; truncated?)");
  Directory d{r.u(eocd + 10, 2, "entry count"), r.u(eocd + 16, 4, "directory offset"),
              r.u(eocd + 12, 4, "directory size")};
  if (d.entries == 0xFFFF || d.offset == 0xFFFFFFFF || d.size == 0xFFFFFFFF) {
    PGOLF_CHECK_INPUT(eocd >= 20, what << ": corrupt torch archive (zip64 locator missing)");
    r.expect_sig(eocd - 20, 0x07064b50, "zip64 locator");
    const uint64_t rec = r.u(eocd - 20 + 8, 8, "zip64 record offset");
    r.expect_sig(rec, 0x06064b50, "zip64 end of central directory");
    d = {r.u(rec + 32, 8, "zip64 entry count"), r.u(rec + 48, 8, "zip64 directory offset"),
         r.u(rec + 40, 8, "zip64 directory size")};
  }
  PGOLF_CHECK_INPUT(d.entries > 0 && d.offset <= r.size() && d.size <= r.size() - d.offset,
                    what << ": corrupt torch archive (central directory of " << d.entries
                         << " entries at " << d.offset << "+" << d.size << " does not fit "
                         << r.size() << " bytes)");
  return d;
}

// Zip64 extra field (id 1): the 8-byte values present, in the order uncompressed, compressed,
// local header offset, for each 32-bit field that holds 0xFFFFFFFF.
void apply_zip64_extra(const Reader& r, uint64_t extra, uint64_t len, uint64_t* fields[3]) {
  for (uint64_t p = extra; p + 4 <= extra + len;) {
    const uint64_t id = r.u(p, 2, "extra id"), n = r.u(p + 2, 2, "extra size");
    if (id == 1) {
      uint64_t q = p + 4;
      for (int i = 0; i < 3; ++i)
        if (*fields[i] == 0xFFFFFFFF && q + 8 <= p + 4 + n) {
          *fields[i] = r.u(q, 8, "zip64 value");
          q += 8;
        }
    }
    p += 4 + n;
  }
}

}  // namespace

void verify_torch_zip(const std::vector<char>& bytes, const std::string& what) {
  const Reader r(bytes, what);
  const Directory dir = find_directory(r, what);
  uint64_t p = dir.offset;
  for (uint64_t i = 0; i < dir.entries; ++i) {
    r.expect_sig(p, 0x02014b50, "central directory entry");
    const uint64_t method = r.u(p + 10, 2, "method"), crc = r.u(p + 16, 4, "crc");
    uint64_t csize = r.u(p + 20, 4, "size"), usize = r.u(p + 24, 4, "size");
    const uint64_t name_len = r.u(p + 28, 2, "name length"), extra_len = r.u(p + 30, 2, "extra");
    const uint64_t comment_len = r.u(p + 32, 2, "comment length");
    uint64_t local = r.u(p + 42, 4, "local header offset");
    r.u(p + 46 + name_len + extra_len + comment_len - 1, 1, "central directory entry");
    const std::string name(bytes.data() + p + 46, name_len);
    uint64_t* fields[3] = {&usize, &csize, &local};
    apply_zip64_extra(r, p + 46 + name_len, extra_len, fields);
    r.expect_sig(local, 0x04034b50, "local file header");
    const uint64_t data = local + 30 + r.u(local + 26, 2, "name length") +
                          r.u(local + 28, 2, "extra length");
    PGOLF_CHECK_INPUT(data <= bytes.size() && csize <= bytes.size() - data,
                      what << ": corrupt torch archive (record " << name << " of " << csize
                           << " bytes at offset " << data << " runs past the end; truncated?)");
    if (method == 0 && crc != 0) {
      PGOLF_CHECK_INPUT(csize == usize, what << ": corrupt torch archive (stored record " << name
                                             << " has sizes " << csize << " != " << usize << ")");
      uLong actual = crc32(0L, Z_NULL, 0);
      for (uint64_t off = 0; off < csize;) {  // zlib's crc32 takes 32-bit lengths
        const auto n = static_cast<uInt>(std::min<uint64_t>(csize - off, 1u << 30));
        actual = crc32(actual, reinterpret_cast<const Bytef*>(bytes.data() + data + off), n);
        off += n;
      }
      PGOLF_CHECK_INPUT(actual == crc, what << ": corrupt torch archive (CRC-32 mismatch in record "
                                            << name << ": the artifact is damaged)");
    }
    p += 46 + name_len + extra_len + comment_len;
  }
}

}  // namespace pgolf::quant
