// brotli, xz and the byte shuffle (codecs.h). Decoding runs in 1 MiB steps so a bomb stops at
// the limit instead of after gigabytes.
#include "pgolf/quant/codecs.h"

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <lzma.h>

#include <cstring>
#include <memory>

#include "pgolf/core/error.h"

namespace pgolf::quant {
namespace {

constexpr char kShuffleMagic[4] = {'B', 'S', 'H', 'F'};
constexpr size_t kStep = size_t{1} << 20;

struct EncoderFree {
  void operator()(BrotliEncoderState* s) const { BrotliEncoderDestroyInstance(s); }
};
struct DecoderFree {
  void operator()(BrotliDecoderState* s) const { BrotliDecoderDestroyInstance(s); }
};
struct LzmaEnd {
  void operator()(lzma_stream* s) const { lzma_end(s); }
};

}  // namespace

std::vector<char> byte_shuffle(const std::vector<char>& data, int stride) {
  if (stride <= 1 || data.size() < static_cast<size_t>(stride)) return data;
  std::vector<char> out(kShuffleMagic, kShuffleMagic + 4);
  out.push_back(static_cast<char>(stride));
  out.reserve(5 + data.size());
  for (int pos = 0; pos < stride; ++pos)
    for (size_t i = pos; i < data.size(); i += stride) out.push_back(data[i]);
  return out;
}

bool has_shuffle_header(const std::vector<char>& data) {
  return data.size() >= 5 && std::memcmp(data.data(), kShuffleMagic, 4) == 0;
}

std::vector<char> byte_unshuffle(const std::vector<char>& data, const std::string& what) {
  if (!has_shuffle_header(data)) return data;
  const int stride = static_cast<unsigned char>(data[4]);
  const size_t n = data.size() - 5;
  if (stride < 2) return std::vector<char>(data.begin() + 5, data.end());
  std::vector<char> out(n);
  size_t src = 5;
  for (int pos = 0; pos < stride; ++pos)
    for (size_t i = pos; i < n; i += stride) out[i] = data[src++];
  PGOLF_CHECK(src == data.size(), what << ": byte shuffle planes do not cover the data");
  return out;
}

std::vector<char> brotli_compress(const std::vector<char>& raw, int quality, int lgwin) {
  std::unique_ptr<BrotliEncoderState, EncoderFree> s(BrotliEncoderCreateInstance(nullptr, nullptr, nullptr));
  PGOLF_CHECK(s, "BrotliEncoderCreateInstance failed");
  BrotliEncoderSetParameter(s.get(), BROTLI_PARAM_MODE, BROTLI_MODE_GENERIC);
  BrotliEncoderSetParameter(s.get(), BROTLI_PARAM_QUALITY, static_cast<uint32_t>(quality));
  BrotliEncoderSetParameter(s.get(), BROTLI_PARAM_LGWIN, static_cast<uint32_t>(lgwin));
  size_t avail_in = raw.size();
  const auto* next_in = reinterpret_cast<const uint8_t*>(raw.data());
  std::vector<char> out;
  std::vector<uint8_t> buf(kStep);
  // Python's brotli.compress: Compressor.process(all input), then finish().
  auto run = [&](BrotliEncoderOperation op) {
    size_t avail_out = buf.size();
    uint8_t* next_out = buf.data();
    PGOLF_CHECK(BrotliEncoderCompressStream(s.get(), op, &avail_in, &next_in, &avail_out,
                                            &next_out, nullptr),
                "brotli compression failed");
    out.insert(out.end(), buf.data(), next_out);
  };
  while (avail_in > 0 || BrotliEncoderHasMoreOutput(s.get())) run(BROTLI_OPERATION_PROCESS);
  while (!BrotliEncoderIsFinished(s.get())) run(BROTLI_OPERATION_FINISH);
  return out;
}

std::vector<char> brotli_decompress(const std::vector<char>& blob, const std::string& what,
                                    uint64_t max_bytes) {
  std::unique_ptr<BrotliDecoderState, DecoderFree> s(BrotliDecoderCreateInstance(nullptr, nullptr, nullptr));
  PGOLF_CHECK(s, "BrotliDecoderCreateInstance failed");
  size_t avail_in = blob.size();
  const auto* next_in = reinterpret_cast<const uint8_t*>(blob.data());
  std::vector<char> out;
  std::vector<uint8_t> buf(kStep);
  while (true) {
    size_t avail_out = buf.size();
    uint8_t* next_out = buf.data();
    const auto rc = BrotliDecoderDecompressStream(s.get(), &avail_in, &next_in, &avail_out,
                                                  &next_out, nullptr);
    out.insert(out.end(), buf.data(), next_out);
    PGOLF_CHECK_INPUT(out.size() <= max_bytes, what << ": brotli stream decodes to more than "
                                                    << max_bytes << " bytes");
    if (rc == BROTLI_DECODER_RESULT_SUCCESS) break;
    PGOLF_CHECK_INPUT(rc != BROTLI_DECODER_RESULT_ERROR,
                      what << ": brotli decompression failed ("
                           << BrotliDecoderErrorString(BrotliDecoderGetErrorCode(s.get())) << ")");
    PGOLF_CHECK_INPUT(rc != BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT,
                      what << ": truncated brotli stream (" << blob.size() << " bytes)");
  }
  PGOLF_CHECK_INPUT(avail_in == 0, what << ": " << avail_in << " trailing bytes after the brotli "
                                                               "stream");
  return out;
}

std::vector<char> lzma_compress(const std::vector<char>& raw, int preset) {
  lzma_stream strm = LZMA_STREAM_INIT;
  PGOLF_CHECK(lzma_easy_encoder(&strm, static_cast<uint32_t>(preset), LZMA_CHECK_CRC64) == LZMA_OK,
              "lzma_easy_encoder(preset " << preset << ") failed");
  std::unique_ptr<lzma_stream, LzmaEnd> guard(&strm);
  strm.next_in = reinterpret_cast<const uint8_t*>(raw.data());
  strm.avail_in = raw.size();
  std::vector<char> out;
  std::vector<uint8_t> buf(kStep);
  lzma_ret rc = LZMA_OK;
  while (rc == LZMA_OK) {
    strm.next_out = buf.data();
    strm.avail_out = buf.size();
    rc = lzma_code(&strm, LZMA_FINISH);
    out.insert(out.end(), buf.data(), buf.data() + (buf.size() - strm.avail_out));
  }
  PGOLF_CHECK(rc == LZMA_STREAM_END, "lzma compression failed (code " << rc << ")");
  return out;
}

bool is_xz(const std::vector<char>& b) {
  static const unsigned char kMagic[6] = {0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00};
  return b.size() >= 6 && std::memcmp(b.data(), kMagic, 6) == 0;
}

std::vector<char> lzma_decompress(const std::vector<char>& blob, const std::string& what,
                                  uint64_t max_bytes) {
  lzma_stream strm = LZMA_STREAM_INIT;
  // 1 GiB of decoder memory covers preset 9 (674 MiB dictionary) with room.
  PGOLF_CHECK(lzma_stream_decoder(&strm, uint64_t{1} << 30, 0) == LZMA_OK,
              "lzma_stream_decoder failed");
  std::unique_ptr<lzma_stream, LzmaEnd> guard(&strm);
  strm.next_in = reinterpret_cast<const uint8_t*>(blob.data());
  strm.avail_in = blob.size();
  std::vector<char> out;
  std::vector<uint8_t> buf(kStep);
  lzma_ret rc = LZMA_OK;
  while (rc == LZMA_OK) {
    strm.next_out = buf.data();
    strm.avail_out = buf.size();
    rc = lzma_code(&strm, LZMA_FINISH);
    out.insert(out.end(), buf.data(), buf.data() + (buf.size() - strm.avail_out));
    PGOLF_CHECK_INPUT(out.size() <= max_bytes, what << ": xz stream decodes to more than "
                                                    << max_bytes << " bytes");
  }
  PGOLF_CHECK_INPUT(rc == LZMA_STREAM_END, what << ": xz decompression failed (lzma code " << rc
                                                << (rc == LZMA_BUF_ERROR ? ", truncated" : "")
                                                << ")");
  PGOLF_CHECK_INPUT(strm.avail_in == 0, what << ": " << strm.avail_in
                                             << " trailing bytes after the xz stream");
  return out;
}

}  // namespace pgolf::quant
