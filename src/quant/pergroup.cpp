// The per-group artifact (pergroup.h): routing of int8 codes to role groups, the similarity
// sort, the transposed layout and the stream container. lrzip runs as a subprocess (lrzip.cpp).
#include "pgolf/quant/pergroup.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>

#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>
#include <caffe2/serialize/inline_container.h>

#include "pgolf/core/error.h"
#include "pgolf/core/tensor_io.h"
#include "pgolf/quant/codecs.h"
#include "pgolf/quant/pergroup_layout.h"

namespace pgolf::quant {

namespace {

// sum |a_j - b_j| of two rows of biased (uint8 = int8 + 128) codes; SSE2's PSADBW where present.
int64_t l1_distance(const uint8_t* a, const uint8_t* b, int64_t n) {
  int64_t d = 0, j = 0;
#if defined(__SSE2__)
  __m128i acc = _mm_setzero_si128();
  for (; j + 16 <= n; j += 16) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + j));
    const __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + j));
    acc = _mm_add_epi64(acc, _mm_sad_epu8(x, y));
  }
  d = _mm_cvtsi128_si64(acc) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(acc, acc));
#endif
  for (; j < n; ++j) d += a[j] > b[j] ? a[j] - b[j] : b[j] - a[j];
  return d;
}

}  // namespace

std::vector<uint16_t> similarity_sort_l1(const torch::Tensor& codes) {
  PGOLF_CHECK(codes.dim() == 2 && codes.scalar_type() == torch::kInt8,
              "similarity_sort_l1: expected int8 (n, c) codes, found " << codes.sizes());
  const int64_t n = codes.size(0), cols = codes.size(1);
  PGOLF_CHECK(n <= 65536, "similarity_sort_l1: " << n << " rows do not fit uint16 indices");
  // Biased to uint8 so |a-b| is an unsigned byte difference; distances are exact integers, as
  // the record's float32 sums of int8 differences are.
  const auto biased = (codes.to(torch::kInt16) + 128).to(torch::kUInt8).contiguous();
  const uint8_t* base = biased.data_ptr<uint8_t>();
  std::vector<uint16_t> order;
  if (n == 0) return order;
  order.reserve(n);
  std::vector<int64_t> unused;  // kept in index order, so the first minimum is the lowest index
  for (int64_t i = 1; i < n; ++i) unused.push_back(i);
  order.push_back(0);
  const uint8_t* cur = base;
  while (!unused.empty()) {
    int64_t best_pos = 0, best = std::numeric_limits<int64_t>::max();
    for (size_t k = 0; k < unused.size(); ++k) {
      const int64_t d = l1_distance(base + unused[k] * cols, cur, cols);
      if (d < best) {
        best = d;
        best_pos = static_cast<int64_t>(k);
      }
    }
    const int64_t pick = unused[best_pos];
    unused.erase(unused.begin() + best_pos);
    order.push_back(static_cast<uint16_t>(pick));
    cur = base + pick * cols;
  }
  return order;
}

bool is_pergroup(const std::vector<char>& blob) {
  return blob.size() >= 4 && std::memcmp(blob.data(), "PGRP", 4) == 0;
}

namespace {

void put_u32(std::vector<char>& out, uint64_t v) {
  PGOLF_CHECK(v <= 0xFFFFFFFFull, "pergroup: a stream of " << v << " bytes does not fit u32");
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

uint64_t get_u32(const std::vector<char>& b, size_t off) {
  uint64_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[off + i]);
  return v;
}

}  // namespace

std::vector<char> pack_streams(const std::vector<std::vector<char>>& streams) {
  std::vector<char> out = {'P', 'G', 'R', 'P'};
  put_u32(out, streams.size());
  for (const auto& s : streams) put_u32(out, s.size());
  for (const auto& s : streams) out.insert(out.end(), s.begin(), s.end());
  return out;
}

std::vector<std::vector<char>> unpack_streams(const std::vector<char>& blob,
                                              const std::string& what) {
  PGOLF_CHECK_INPUT(blob.size() >= 8 && is_pergroup(blob),
                    what << ": not a pergroup artifact (expected the PGRP header)");
  const uint64_t n = get_u32(blob, 4);
  PGOLF_CHECK_INPUT(n <= (blob.size() - 8) / 4, what << ": pergroup header declares " << n
                                                     << " streams, more than its "
                                                     << blob.size() << " bytes can size");
  std::vector<std::vector<char>> streams;
  uint64_t off = 8 + 4 * n;
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t len = get_u32(blob, 8 + 4 * i);
    PGOLF_CHECK_INPUT(off + len <= blob.size(), what << ": pergroup stream " << i << " of " << len
                                                     << " bytes runs past the end of the "
                                                     << blob.size() << "-byte file");
    streams.emplace_back(blob.begin() + static_cast<int64_t>(off),
                         blob.begin() + static_cast<int64_t>(off + len));
    off += len;
  }
  PGOLF_CHECK_INPUT(off == blob.size(), what << ": " << (blob.size() - off)
                                             << " trailing bytes after the pergroup streams");
  return streams;
}

std::vector<char> serialize_pergroup(const QuantResult& quant, std::vector<int64_t>* stream_bytes) {
  const GroupedCodes g = group_codes(quant);
  std::vector<std::vector<char>> streams;
  std::vector<char> perms;
  for (const auto& key : group_order()) {
    const auto it = g.groups.find(key);
    if (it == g.groups.end()) {
      streams.emplace_back();
      continue;
    }
    std::vector<char> blob;
    for (const auto& [layer, t] : it->second) {
      auto arr = t.contiguous();
      if (arr.dim() == 2) {
        if (is_simsort_group(key)) {
          const auto order = similarity_sort_l1(arr);
          const auto* p = reinterpret_cast<const char*>(order.data());
          perms.insert(perms.end(), p, p + 2 * order.size());  // little-endian uint16
          arr = arr.index_select(0, torch::tensor(std::vector<int64_t>(order.begin(), order.end())));
        }
        arr = arr.t().contiguous();
      }
      const auto* p = static_cast<const char*>(arr.data_ptr());
      blob.insert(blob.end(), p, p + arr.nbytes());
    }
    streams.push_back(lrzip_compress(blob));
  }
  streams.push_back(brotli_compress(remainder_bytes(quant, g), 11, 24));
  streams.push_back(perms.empty() ? std::vector<char>{} : brotli_compress(perms, 11));
  if (stream_bytes) {
    stream_bytes->clear();
    for (const auto& s : streams) stream_bytes->push_back(static_cast<int64_t>(s.size()));
  }
  return pack_streams(streams);
}

namespace {

// Undoes the transpose and the row order of one matrix of a group.
torch::Tensor unpack_matrix(const char* data, const std::vector<int64_t>& shape, bool sorted,
                            const std::vector<char>& perms, size_t& perm_off,
                            const std::string& what, const std::string& key) {
  int64_t numel = 1;
  for (const auto d : shape) numel *= d;
  auto flat = torch::empty({numel}, torch::kInt8);
  std::memcpy(flat.data_ptr(), data, static_cast<size_t>(numel));
  if (shape.size() != 2) return flat.reshape(shape);
  const int64_t rows = shape[0], cols = shape[1];
  auto m = flat.reshape({cols, rows}).t().contiguous();
  if (!sorted) return m;
  PGOLF_CHECK_INPUT(perm_off + 2 * static_cast<size_t>(rows) <= perms.size(),
                    what << ": group '" << key << "' needs " << rows
                         << " more row indices than the stored permutations hold");
  std::vector<int64_t> inv(rows, -1);
  for (int64_t k = 0; k < rows; ++k) {
    const auto lo = static_cast<unsigned char>(perms[perm_off + 2 * k]);
    const auto hi = static_cast<unsigned char>(perms[perm_off + 2 * k + 1]);
    const int64_t src = lo | (hi << 8);
    PGOLF_CHECK_INPUT(src < rows && inv[src] < 0,
                      what << ": group '" << key << "' row order is not a permutation of " << rows);
    inv[src] = k;
  }
  perm_off += 2 * static_cast<size_t>(rows);
  return m.index_select(0, torch::tensor(inv));
}

}  // namespace

QuantResult deserialize_pergroup(const std::vector<char>& blob, const std::string& what) {
  const auto streams = unpack_streams(blob, what);
  const auto& order = group_order();
  PGOLF_CHECK_INPUT(streams.size() == order.size() + 2,
                    what << ": pergroup artifact has " << streams.size() << " streams, expected "
                         << order.size() + 2);
  const uint64_t limit = uint64_t{1} << 30;
  const auto rem = parse_remainder(brotli_decompress(streams[order.size()], what, limit), what);
  const auto& ps = streams[order.size() + 1];
  const auto perms = ps.empty() ? std::vector<char>{} : brotli_decompress(ps, what, limit);
  QuantResult out{rem.r, rem.m};
  size_t perm_off = 0;
  for (size_t gi = 0; gi < order.size(); ++gi) {
    const auto& key = order[gi];
    if (streams[gi].empty()) continue;
    const auto raw = lrzip_decompress(streams[gi], what);
    if (raw.empty()) continue;
    const auto it = std::find_if(rem.s.begin(), rem.s.end(),
                                 [&](const auto& e) { return e.first == key; });
    PGOLF_CHECK_INPUT(it != rem.s.end(), what << ": no shapes stored for group '" << key << "'");
    size_t off = 0;
    for (size_t i = 0; i < it->second.size(); ++i) {
      const auto& shape = it->second[i];
      int64_t numel = 1;
      for (const auto d : shape) numel *= d;
      PGOLF_CHECK_INPUT(off + static_cast<size_t>(numel) <= raw.size(),
                        what << ": group '" << key << "' holds " << raw.size()
                             << " bytes, fewer than its shapes need");
      const std::string name =
          key[0] == '_' ? key.substr(1) : "blocks." + std::to_string(i) + "." + key;
      out.w.emplace_back(name, unpack_matrix(raw.data() + off, shape, is_simsort_group(key),
                                             perms, perm_off, what, key));
      off += static_cast<size_t>(numel);
      if (key[0] == '_') break;
    }
  }
  return out;
}

}  // namespace pgolf::quant
