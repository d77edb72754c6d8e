// The frontier records' byte codecs: brotli (Debian libbrotli), xz/lzma (Debian liblzma) and the
// stride-2 byte shuffle with its "BSHF" header (records 1.0835 on: _byte_shuffle). Decoders are
// bounded by a byte limit and name their source in errors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pgolf::quant {

// "BSHF" + stride byte + byte plane 0, plane 1, ...; inputs shorter than `stride` (or stride < 2)
// are returned unchanged, without a header, as the record does.
std::vector<char> byte_shuffle(const std::vector<char>& data, int stride = 2);
bool has_shuffle_header(const std::vector<char>& data);
// Undoes byte_shuffle; data without the header is returned unchanged.
std::vector<char> byte_unshuffle(const std::vector<char>& data, const std::string& what);

// Python brotli.compress(raw, quality, lgwin) (generic mode, one streamed FINISH, no size hint).
std::vector<char> brotli_compress(const std::vector<char>& raw, int quality = 11, int lgwin = 22);
std::vector<char> brotli_decompress(const std::vector<char>& blob, const std::string& what,
                                    uint64_t max_bytes);

// Python lzma.compress(raw, preset=9): an .xz stream with a CRC64 check.
std::vector<char> lzma_compress(const std::vector<char>& raw, int preset = 9);
bool is_xz(const std::vector<char>& blob);  // magic FD 37 7A 58 5A 00
std::vector<char> lzma_decompress(const std::vector<char>& blob, const std::string& what,
                                  uint64_t max_bytes);

}  // namespace pgolf::quant
