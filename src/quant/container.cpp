// Artifact container (see container.h): torch.save-format pickle of {"w", "m"} inside one zstd
// frame (or zlib). Every decoding step validates sizes and turns library failures (zstd errors,
// zip CRC mismatches, unpickling errors) into input errors that name the file.
#include "pgolf/quant/container.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <unordered_set>

#include <c10/util/Exception.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>

#include "pgolf/core/error.h"
#include "pgolf/core/files.h"
#include "pgolf/quant/codecs.h"
#include "pgolf/quant/gptq_mixed.h"
#include "pgolf/quant/pergroup.h"
#include "pgolf/quant/zip_check.h"

namespace pgolf::quant {
namespace {

struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};

std::string hex_head(const std::vector<char>& b) {
  std::string s;
  for (size_t i = 0; i < std::min<size_t>(b.size(), 4); ++i) {
    char buf[4];
    std::snprintf(buf, sizeof(buf), "%02x ", static_cast<unsigned char>(b[i]));
    s += buf;
  }
  return s.empty() ? "(empty)" : s.substr(0, s.size() - 1);
}

bool is_zstd(const std::vector<char>& b) {
  static const unsigned char kMagic[4] = {0x28, 0xB5, 0x2F, 0xFD};
  return b.size() >= 4 && std::memcmp(b.data(), kMagic, 4) == 0;
}

bool is_zlib(const std::vector<char>& b) {  // RFC 1950: deflate, window <= 32K, FCHECK
  if (b.size() < 2) return false;
  const auto cmf = static_cast<unsigned char>(b[0]), flg = static_cast<unsigned char>(b[1]);
  return (cmf & 0x0F) == 8 && (cmf >> 4) <= 7 && ((cmf << 8) | flg) % 31 == 0;
}

struct DCtxFree {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

// Checks a torch.save zip as its bytes are decoded, so that a decompression bomb is stopped at the
// first chunk that cannot belong to an artifact instead of after gigabytes: the data must open
// with a local file header, and each local header's record must end where the next header (or
// the central directory) begins, inside `limit`. Headers whose sizes come later (data
// descriptor, zip64) end the walk; verify_torch_zip checks the whole archive afterwards.
class ZipPrefixCheck {
 public:
  ZipPrefixCheck(const std::string& what, uint64_t limit) : what_(what), limit_(limit) {}

  void feed(const std::vector<char>& b) {
    while (!done_ && next_ + 30 <= b.size()) {
      const uint64_t sig = le(b, next_, 4);
      if (sig == 0x02014b50 && next_ > 0) {  // central directory: the records are complete
        done_ = true;
        return;
      }
      PGOLF_CHECK_INPUT(sig == 0x04034b50,
                        what_ << ": the decompressed data is not a torch archive (at offset "
                              << next_ << " found " << hex_at(b, next_)
                              << ", expected a zip header 50 4b 03 04)");
      const uint64_t flags = le(b, next_ + 6, 2), csize = le(b, next_ + 18, 4);
      if ((flags & 8) != 0 || csize == 0xFFFFFFFF) {
        done_ = true;
        return;
      }
      const uint64_t end = next_ + 30 + le(b, next_ + 26, 2) + le(b, next_ + 28, 2) + csize;
      PGOLF_CHECK_INPUT(end <= limit_, what_ << ": the decompressed torch archive declares a "
                                                "record ending at byte "
                                             << end << ", past the limit of " << limit_
                                             << " bytes for this artifact");
      next_ = end;
    }
  }

 private:
  static uint64_t le(const std::vector<char>& b, uint64_t off, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[off + i]);
    return v;
  }
  static std::string hex_at(const std::vector<char>& b, uint64_t off) {
    return hex_head(std::vector<char>(b.begin() + static_cast<int64_t>(off),
                                      b.begin() + static_cast<int64_t>(std::min<uint64_t>(
                                                      b.size(), off + 4))));
  }
  const std::string& what_;
  const uint64_t limit_;
  uint64_t next_ = 0;
  bool done_ = false;
};

constexpr size_t kChunk = size_t{1} << 20;  // decoded bytes per step

// Streams the frame in 1 MiB steps. The declared content size must be within `limit` before
// anything is decoded, and the bytes must look like a torch archive as they arrive.
std::vector<char> zstd_decompress(const std::vector<char>& blob, const std::string& what,
                                  uint64_t limit) {
  const unsigned long long size = ZSTD_getFrameContentSize(blob.data(), blob.size());
  PGOLF_CHECK_INPUT(size != ZSTD_CONTENTSIZE_ERROR,
                    what << ": corrupt zstd frame header (" << blob.size() << " bytes)");
  PGOLF_CHECK_INPUT(size != ZSTD_CONTENTSIZE_UNKNOWN,
                    what << ": zstd frame without content size (truncated header or a streamed "
                            "frame); artifacts carry their size in the header");
  PGOLF_CHECK_INPUT(size <= limit, what << ": zstd frame declares " << size
                                        << " decompressed bytes, more than the " << limit
                                        << " an artifact of " << blob.size()
                                        << " bytes may hold (README, Reliability)");
  const size_t frame = ZSTD_findFrameCompressedSize(blob.data(), blob.size());
  PGOLF_CHECK_INPUT(!ZSTD_isError(frame), what << ": truncated or corrupt zstd frame ("
                                               << ZSTD_getErrorName(frame) << "; file has "
                                               << blob.size() << " bytes)");
  PGOLF_CHECK_INPUT(frame == blob.size(), what << ": " << (blob.size() - frame)
                                               << " trailing bytes after the zstd frame of "
                                               << frame << " bytes; expected exactly one frame");
  std::unique_ptr<ZSTD_DCtx, DCtxFree> dctx(ZSTD_createDCtx());
  PGOLF_CHECK(dctx, "ZSTD_createDCtx failed");
  ZipPrefixCheck zip(what, size);
  std::vector<char> out, chunk(kChunk);
  // Room for a real artifact's ratio (< 4x) at once; a frame holding more grows the buffer only
  // as its bytes arrive, so a declared size costs nothing until it is decoded.
  out.reserve(static_cast<size_t>(std::min<uint64_t>(size, 8 * uint64_t{blob.size()} + kChunk)));
  ZSTD_inBuffer in{blob.data(), blob.size(), 0};
  while (true) {
    ZSTD_outBuffer ob{chunk.data(), chunk.size(), 0};
    const size_t rc = ZSTD_decompressStream(dctx.get(), &ob, &in);
    PGOLF_CHECK_INPUT(!ZSTD_isError(rc),
                      what << ": zstd decompression failed (" << ZSTD_getErrorName(rc) << ")");
    PGOLF_CHECK_INPUT(out.size() + ob.pos <= size, what << ": zstd frame decodes to more than "
                                                        "the " << size
                                                        << " bytes its header declares");
    out.insert(out.end(), chunk.data(), chunk.data() + ob.pos);
    zip.feed(out);
    if (rc == 0) break;  // frame complete, checksum verified
    PGOLF_CHECK_INPUT(ob.pos == ob.size || in.pos < in.size,
                      what << ": truncated zstd frame (input ended after " << out.size() << " of "
                           << size << " bytes)");
  }
  PGOLF_CHECK_INPUT(out.size() == size, what << ": zstd frame decoded to " << out.size()
                                             << " bytes, its header declares " << size);
  return out;
}

// zlib has no declared size: the stream is bounded by `limit` alone, in 1 MiB steps.
std::vector<char> zlib_decompress(const std::vector<char>& blob, const std::string& what,
                                  uint64_t limit) {
  z_stream zs{};
  PGOLF_CHECK(inflateInit(&zs) == Z_OK, "zlib inflateInit failed");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);
  ZipPrefixCheck zip(what, limit);
  std::vector<char> out, chunk(kChunk);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(blob.data()));
  zs.avail_in = static_cast<uInt>(blob.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk.data());
    zs.avail_out = static_cast<uInt>(chunk.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    const size_t got = chunk.size() - zs.avail_out;
    PGOLF_CHECK_INPUT(out.size() + got <= limit, what << ": zlib stream decodes to more than the "
                                                      << limit << " bytes an artifact of "
                                                      << blob.size()
                                                      << " bytes may hold (README, Reliability)");
    out.insert(out.end(), chunk.data(), chunk.data() + got);
    zip.feed(out);
    if (rc == Z_BUF_ERROR && got > 0) rc = Z_OK;  // output was full: keep going
  }
  PGOLF_CHECK_INPUT(rc == Z_STREAM_END, what << ": zlib decompression failed ("
                                             << (zs.msg ? zs.msg : "truncated stream") << ")");
  PGOLF_CHECK_INPUT(zs.avail_in == 0, what << ": " << zs.avail_in
                                           << " trailing bytes after the zlib stream");
  return out;
}

}  // namespace

std::vector<char> compress(const std::vector<char>& raw, const CompressOptions& opts) {
  PGOLF_CHECK(opts.codec != Codec::kPergroup,
              "compress: the pergroup layout works on the quantised entries (encode_artifact)");
  if (opts.codec == Codec::kLzma || opts.codec == Codec::kBrotli) {
    const auto data = opts.byte_shuffle ? byte_shuffle(raw) : raw;
    return opts.codec == Codec::kLzma ? lzma_compress(data, 9) : brotli_compress(data, 11);
  }
  if (opts.codec == Codec::kZlib) {
    uLongf n = compressBound(static_cast<uLong>(raw.size()));
    std::vector<char> out(n);
    const int rc = compress2(reinterpret_cast<Bytef*>(out.data()), &n,
                             reinterpret_cast<const Bytef*>(raw.data()),
                             static_cast<uLong>(raw.size()), std::min(opts.level, 9));
    PGOLF_CHECK(rc == Z_OK, "zlib compress2 failed with code " << rc);
    out.resize(n);
    return out;
  }
  std::unique_ptr<ZSTD_CCtx, CCtxFree> cctx(ZSTD_createCCtx());
  PGOLF_CHECK(cctx, "ZSTD_createCCtx failed");
  auto set = [&](ZSTD_cParameter p, int v, const char* what) {
    const size_t rc = ZSTD_CCtx_setParameter(cctx.get(), p, v);
    PGOLF_CHECK(!ZSTD_isError(rc), "zstd " << what << "=" << v << ": " << ZSTD_getErrorName(rc));
  };
  set(ZSTD_c_compressionLevel, opts.level, "level");
  set(ZSTD_c_checksumFlag, opts.checksum ? 1 : 0, "checksum");
  set(ZSTD_c_contentSizeFlag, 1, "content size");
  // Workers split the work inside one frame; a libzstd built without threads rejects the
  // parameter, and single-threaded output is then the (equally valid) fallback.
  if (opts.threads > 0) ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_nbWorkers, opts.threads);
  std::vector<char> out(ZSTD_compressBound(raw.size()));
  const size_t n = ZSTD_compress2(cctx.get(), out.data(), out.size(), raw.data(), raw.size());
  PGOLF_CHECK(!ZSTD_isError(n), "zstd compression failed: " << ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

uint64_t decode_limit(uint64_t compressed) {
  const uint64_t by_ratio = compressed > kMaxDecodedBytes / 64 ? kMaxDecodedBytes : 64 * compressed;
  return std::min(kMaxDecodedBytes, std::max(uint64_t{64} << 20, by_ratio));
}

std::vector<char> decompress(const std::vector<char>& blob, const std::string& what,
                             uint64_t max_bytes) {
  if (max_bytes == 0) max_bytes = decode_limit(blob.size());
  if (is_zstd(blob)) return zstd_decompress(blob, what, max_bytes);
  if (is_xz(blob)) return byte_unshuffle(lzma_decompress(blob, what, max_bytes), what);
  const bool zip = blob.size() >= 2 && blob[0] == 'P' && blob[1] == 'K';
  if (is_zlib(blob)) {
    try {
      return zlib_decompress(blob, what, max_bytes);
    } catch (const Error&) {  // brotli has no magic: its first bytes can pass as a zlib header
      try {
        return byte_unshuffle(brotli_decompress(blob, what, max_bytes), what);
      } catch (const Error&) {
      }
      throw;
    }
  }
  if (!zip) {
    try {
      return byte_unshuffle(brotli_decompress(blob, what, max_bytes), what);
    } catch (const Error&) {
    }
  }
  PGOLF_FAIL_INPUT(what << ": not a zstd, xz, zlib or brotli artifact (first bytes "
                        << hex_head(blob)
                        << ", expected zstd magic 28 b5 2f fd, xz fd 37 7a 58 5a 00, a zlib header "
                           "or a brotli stream)"
                        << (zip ? "; this looks like an uncompressed torch.save file" : ""));
}

namespace {

// A tensor that owns exactly its bytes, so the pickle never writes a larger shared storage.
torch::Tensor owned(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU).contiguous();
  const bool whole = c.storage_offset() == 0 && c.storage().nbytes() == c.nbytes();
  return whole ? c : c.clone();
}

const std::unordered_set<std::string>& known_kinds() {
  static const std::unordered_set<std::string> k = {"passthrough", "passthrough_ctrl",
                                                    "passthrough_fp16", "int5", "int6", "int8"};
  return k;
}

MetaEntry parse_meta(const std::string& name, const c10::IValue& v, const std::string& what) {
  MetaEntry e;
  if (v.isString()) {
    e.kind = v.toStringRef();
  } else if (v.isGenericDict()) {
    const auto d = v.toGenericDict();
    const auto it = d.find(c10::IValue(std::string("type")));
    PGOLF_CHECK_INPUT(it != d.end() && it->value().isString(),
                      what << ": meta of '" << name << "' is a dict without a string \"type\"");
    e.kind = it->value().toStringRef();
    PGOLF_CHECK_INPUT(e.quantized(), what << ": meta of '" << name << "' has type '" << e.kind
                                          << "', expected int5 | int6 | int8");
  } else {
    PGOLF_FAIL_INPUT(what << ": meta of '" << name << "' is a " << v.tagKind()
                          << ", expected a string or {\"type\": ...}");
  }
  PGOLF_CHECK_INPUT(known_kinds().count(e.kind) || is_gptq_kind(e.kind),
                    what << ": meta of '" << name << "' is '" << e.kind
                                                      << "', expected passthrough | "
                                                         "passthrough_ctrl | passthrough_fp16 | "
                                                         "int5 | int6 | int8 | the 1.0611 "
                                                         "record's gptq kinds");
  return e;
}

c10::impl::GenericDict dict_field(const c10::impl::GenericDict& top, const char* key,
                                  const std::string& what) {
  const auto it = top.find(c10::IValue(std::string(key)));
  PGOLF_CHECK_INPUT(it != top.end(), what << ": archive has no \"" << key
                                          << "\" entry; expected {\"w\": tensors, \"m\": meta}");
  PGOLF_CHECK_INPUT(it->value().isGenericDict(), what << ": \"" << key << "\" is a "
                                                      << it->value().tagKind() << ", expected a dict");
  return it->value().toGenericDict();
}

}  // namespace

std::vector<char> torch_save_bytes(const c10::IValue& value) {
  // torch::pickle_save would tag typed dicts with torch.jit._pickle.restore_type_tag, which
  // Python's torch.load(weights_only=True) (the default since torch 2.6) refuses. Pickle without
  // type tags, exactly as Python's torch.save writes a dict, then the same zip layout.
  std::vector<char> pickle;
  torch::jit::Pickler pickler([&](const char* buf, size_t n) { pickle.insert(pickle.end(), buf, buf + n); },
                              /*tensor_table=*/nullptr, /*type_renamer=*/nullptr,
                              /*memoized_class_types=*/nullptr, /*get_tensor_id=*/nullptr,
                              /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(value);
  pickler.stop();
  std::vector<char> out;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    out.insert(out.end(), p, p + n);
    return n;
  });
  torch::jit::writeArchiveAndTensors("data", pickle.data(), pickle.size(), pickler.tensorData(),
                                     writer);
  writer.writeEndOfFile();
  return out;
}

std::vector<char> serialize_quant(const QuantResult& quant) {
  c10::Dict<std::string, at::Tensor> w;
  for (const auto& [name, t] : quant.w) {
    PGOLF_CHECK(t.defined() && !w.contains(name), "artifact tensor '" << name
                                                  << "' is undefined or appears twice");
    w.insert(name, owned(t));
  }
  c10::impl::GenericDict m(c10::StringType::get(), c10::AnyType::get());
  for (const auto& [name, e] : quant.meta) {
    PGOLF_CHECK(!m.contains(name), "meta name '" << name << "' appears twice");
    if (e.quantized()) {
      c10::Dict<std::string, std::string> d;
      d.insert("type", e.kind);
      m.insert(name, d);
    } else {
      m.insert(name, e.kind);
    }
  }
  c10::impl::GenericDict top(c10::StringType::get(), c10::AnyType::get());
  top.insert(std::string("w"), w);
  top.insert(std::string("m"), m);
  return torch_save_bytes(top);
}


QuantResult deserialize_quant(const std::vector<char>& bytes, const std::string& what) {
  verify_torch_zip(bytes, what);
  const core::Archive archive = core::load_archive(bytes, what);
  const c10::IValue& v = archive.value;
  PGOLF_CHECK_INPUT(v.isGenericDict(), what << ": expected a dict {\"w\", \"m\"}, found a "
                                            << v.tagKind());
  const auto top = v.toGenericDict();
  QuantResult out;
  std::unordered_set<std::string> names;
  for (const auto& item : dict_field(top, "w", what)) {
    PGOLF_CHECK_INPUT(item.key().isString() && item.value().isTensor(),
                      what << ": \"w\" must map names to tensors, found a " << item.key().tagKind()
                           << " -> " << item.value().tagKind() << " entry");
    archive.check_tensor(item.value().toTensor(), what, item.key().toStringRef());
    out.w.emplace_back(item.key().toStringRef(), item.value().toTensor());
    names.insert(item.key().toStringRef());
  }
  for (const auto& item : dict_field(top, "m", what)) {
    PGOLF_CHECK_INPUT(item.key().isString(), what << ": \"m\" has a non-string key");
    const std::string name = item.key().toStringRef();
    MetaEntry e = parse_meta(name, item.value(), what);
    const auto need = is_gptq_kind(e.kind) ? gptq_entries(name, e.kind)
                      : e.quantized()      ? std::vector<std::string>{name + ".q", name + ".scale"}
                                           : std::vector<std::string>{name};
    for (const auto& key : need)
      PGOLF_CHECK_INPUT(names.count(key), what << ": meta lists '" << name << "' as " << e.kind
                                               << " but \"w\" has no '" << key << "'");
    out.meta.emplace_back(name, std::move(e));
  }
  return out;
}

std::vector<char> encode_artifact(const QuantResult& quant, const CompressOptions& opts) {
  if (opts.codec == Codec::kPergroup) return serialize_pergroup(quant);
  return compress(serialize_quant(quant), opts);
}

QuantResult decode_artifact(const std::vector<char>& blob, const std::string& what) {
  if (is_pergroup(blob)) return deserialize_pergroup(blob, what);
  return deserialize_quant(decompress(blob, what), what);
}

void write_artifact(const std::string& path, const std::vector<char>& blob) {
  core::write_file_atomic(path, blob.data(), blob.size());
}

QuantResult read_artifact(const std::string& path) {
  const auto raw = core::read_file(path);
  PGOLF_CHECK_INPUT(!raw.empty(), path << ": empty file, expected a compressed artifact");
  return decode_artifact(std::vector<char>(raw.begin(), raw.end()), path);
}

}  // namespace pgolf::quant
