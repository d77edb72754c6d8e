// Document reading and the shard export loop (reference-spec §2.2, data/download_hf_docs_and_
// tokenize.py export_shards): BOS + ids per document, val first, flush on size and split change.
#include "pgolf/data/encode.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "pgolf/core/error.h"
#include "pgolf/core/files.h"
#include "pgolf/data/caseops.h"
#include "pgolf/data/shard.h"
#include "pgolf/data/sidecar.h"

namespace pgolf::data {
namespace {

bool is_blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c) != 0; });
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Accumulates one split's tokens (and, for val with a sidecar, their byte counts) and writes a
// shard every shard_size tokens or on split change; a sidecar is flushed with its token shard.
class ShardSink {
 public:
  ShardSink(std::string dir, int64_t shard_size, bool val_sidecar, EncodeStats& stats)
      : dir_(std::move(dir)), shard_size_(shard_size), val_sidecar_(val_sidecar), stats_(stats) {
    buf_.reserve(static_cast<size_t>(std::min<int64_t>(shard_size_, int64_t{1} << 24)));
  }
  void set_split(const std::string& split) {
    if (split == split_) return;
    flush();
    split_ = split;
  }
  // `bytes` (one per token) is used in the val split when it has a sidecar.
  void append(const std::vector<uint16_t>& toks, const std::vector<int64_t>& bytes) {
    const bool sidecar = val_sidecar_ && split_ == "val";
    PGOLF_CHECK(!sidecar || bytes.size() == toks.size(),
                "encode: " << bytes.size() << " byte counts for " << toks.size() << " tokens");
    size_t pos = 0;
    while (pos < toks.size()) {
      const size_t room = static_cast<size_t>(shard_size_) - buf_.size();
      const size_t take = std::min(room, toks.size() - pos);
      buf_.insert(buf_.end(), toks.begin() + pos, toks.begin() + pos + take);
      if (sidecar) bytes_.insert(bytes_.end(), bytes.begin() + pos, bytes.begin() + pos + take);
      pos += take;
      if (buf_.size() == static_cast<size_t>(shard_size_)) flush();  // documents may straddle
    }
  }
  void flush() {
    if (buf_.empty()) return;
    const bool val = split_ == "val";
    int64_t& index = val ? stats_.files_val : stats_.files_train;
    const std::string path = dir_ + "/" + shard_file_name(split_, index);
    write_shard(path, buf_);
    stats_.files.push_back(path);
    if (val && val_sidecar_) {
      const std::string side = dir_ + "/" + shard_file_name("val_bytes", index);
      write_byte_sidecar(side, bytes_);
      stats_.files.push_back(side);
      ++stats_.files_val_bytes;
    }
    ++index;
    buf_.clear();
    bytes_.clear();
  }

 private:
  std::string dir_;
  int64_t shard_size_;
  bool val_sidecar_;
  EncodeStats& stats_;
  std::string split_ = "val";
  std::vector<uint16_t> buf_;
  std::vector<int64_t> bytes_;
};

void check_options(const EncodeOptions& o) {
  PGOLF_CHECK_INPUT(!o.output_dir.empty(), "encode: output directory is empty");
  PGOLF_CHECK_INPUT(
      o.shard_size >= 1 && o.shard_size <= kShardMaxTokens,
      "encode: shard size must be in [1, " << kShardMaxTokens << "], found " << o.shard_size);
  PGOLF_CHECK_INPUT(
      o.vocab_size >= 1 && o.vocab_size <= 65536,
      "encode: vocab size must be in [1, 65536] to fit uint16 shards, found " << o.vocab_size);
  PGOLF_CHECK_INPUT(o.bos_id >= 0 && o.bos_id < o.vocab_size,
                    "encode: BOS id " << o.bos_id << " outside [0, " << o.vocab_size << ")");
  PGOLF_CHECK_INPUT(o.num_val_docs >= 0,
                    "encode: num_val_docs must be >= 0, found " << o.num_val_docs);
  PGOLF_CHECK_INPUT(o.batch_docs >= 1, "encode: batch_docs must be >= 1");
}

// Creates the output folder; existing shards are replaced only when asked (the reference always
// deletes them, which is too easy to regret by accident).
void prepare_output_dir(const EncodeOptions& o) {
  std::error_code ec;
  std::filesystem::create_directories(o.output_dir, ec);
  PGOLF_CHECK_INPUT(!ec, "encode: cannot create output directory " << o.output_dir << " ("
                                                                   << ec.message() << ")");
  std::vector<std::string> stale = core::glob_sorted(o.output_dir + "/fineweb_train_*.bin");
  for (auto& f : core::glob_sorted(o.output_dir + "/fineweb_val_*.bin")) stale.push_back(f);
  if (stale.empty()) return;
  PGOLF_CHECK_INPUT(o.overwrite, "encode: " << o.output_dir << " already holds " << stale.size()
                                            << " shard(s) (e.g. " << stale[0]
                                            << "); pass --overwrite to replace them");
  for (const auto& f : stale) std::filesystem::remove(f);
}

// Length of the well-formed UTF-8 sequence at s[i] (Unicode Table 3-7), or 0 when it is not one;
// `*bad_len` is then the length of its maximal ill-formed prefix (at least 1).
size_t utf8_sequence(const std::string& s, size_t i, size_t* bad_len) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  *bad_len = 1;
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte: no overlongs, no surrogates
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
  } else {
    return 0;
  }
  for (size_t k = 1; k < n; ++k) {
    if (i + k >= s.size()) return 0;
    const unsigned char x = b(i + k);
    if (x < (k == 1 ? lo : 0x80) || x > (k == 1 ? hi : 0xBF)) return 0;
    *bad_len = k + 1;
  }
  return n;
}

}  // namespace

size_t invalid_utf8_offset(const std::string& s) {
  size_t bad = 0;
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_sequence(s, i, &bad);
    if (n == 0) return i;
    i += n;
  }
  return std::string::npos;
}

int64_t replace_invalid_utf8(std::string& s) {
  if (invalid_utf8_offset(s) == std::string::npos) return 0;
  std::string out;
  out.reserve(s.size() + 8);
  int64_t replaced = 0;
  size_t bad = 0;
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_sequence(s, i, &bad);
    if (n > 0) {
      out.append(s, i, n);
      i += n;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++replaced;
      i += std::min(bad, s.size() - i);
    }
  }
  s = std::move(out);
  return replaced;
}

DocFormat parse_doc_format(const std::string& name) {
  if (name == "auto") return DocFormat::kAuto;
  if (name == "text") return DocFormat::kText;
  if (name == "jsonl") return DocFormat::kJsonl;
  PGOLF_FAIL_INPUT("document format: expected auto, text or jsonl, found \"" << name << "\"");
}

std::string shard_file_name(const std::string& split, int64_t index) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "_%06lld.bin", static_cast<long long>(index));
  return "fineweb_" + split + buf;
}

DocumentReader::DocumentReader(const std::string& path, DocFormat format,
                               bool replace_invalid_utf8)
    : path_(path), format_(format), replace_utf8_(replace_invalid_utf8) {
  if (path == "-") {
    in_ = &std::cin;
    path_ = "<stdin>";
  } else {
    file_ = std::make_unique<std::ifstream>(path, std::ios::binary);
    PGOLF_CHECK_INPUT(file_->good(), path << ": cannot open for reading");
    in_ = file_.get();
  }
  if (format_ == DocFormat::kAuto) {
    format_ = ends_with(path, ".jsonl") || ends_with(path, ".json") ? DocFormat::kJsonl
                                                                    : DocFormat::kText;
  }
}

bool DocumentReader::read_line(std::string& line) {
  if (!std::getline(*in_, line)) return false;
  ++line_no_;
  const int64_t line_start = bytes_;
  bytes_ += static_cast<int64_t>(line.size()) + 1;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  const size_t bad = invalid_utf8_offset(line);
  if (bad != std::string::npos) {
    PGOLF_CHECK_INPUT(replace_utf8_,
                      path_ << ":" << line_no_ << ": invalid UTF-8 at byte " << bad + 1
                            << " of the line (file offset " << line_start + static_cast<int64_t>(bad)
                            << ", byte 0x" << std::hex << int{static_cast<unsigned char>(line[bad])}
                            << std::dec << "); pass --replace-invalid-utf8 to replace invalid "
                            << "sequences with U+FFFD");
    replaced_ += replace_invalid_utf8(line);
  }
  return true;
}

bool DocumentReader::next(std::string& doc) {
  const bool ok = format_ == DocFormat::kJsonl ? next_jsonl(doc) : next_text(doc);
  if (ok) ++docs_;
  return ok;
}

bool DocumentReader::next_text(std::string& doc) {
  std::string line;
  doc.clear();
  bool started = false;
  while (read_line(line)) {
    if (is_blank(line)) {
      if (started) return true;  // a blank line ends the document
      continue;                  // blank lines between documents
    }
    if (started) doc += '\n';
    doc += line;
    started = true;
  }
  return started;
}

bool DocumentReader::next_jsonl(std::string& doc) {
  std::string line;
  while (read_line(line)) {
    if (is_blank(line)) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      PGOLF_FAIL_INPUT(path_ << ":" << line_no_ << ": invalid JSON (" << e.what() << ")");
    }
    PGOLF_CHECK_INPUT(j.is_object() && j.contains("text") && j["text"].is_string(),
                      path_ << ":" << line_no_ << ": expected an object with a string field "
                            << "\"text\", found " << j.dump().substr(0, 80));
    doc = j["text"].get<std::string>();
    return true;
  }
  return false;
}

std::vector<std::string> read_documents(DocumentReader& docs, int64_t max_docs) {
  std::vector<std::string> out;
  std::string doc;
  while ((max_docs <= 0 || static_cast<int64_t>(out.size()) < max_docs) && docs.next(doc)) {
    out.push_back(std::move(doc));
  }
  return out;
}

namespace {

// Transforms a batch for the tokenizer (CaseOps), checking that each document comes back.
std::vector<std::string> tokenizer_inputs(const std::vector<std::string>& batch, bool caseops,
                                          int64_t first_doc, EncodeStats& stats) {
  if (!caseops) return batch;
  std::vector<std::string> out;
  out.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    out.push_back(caseops::encode(batch[i]));
    PGOLF_CHECK(caseops::decode(out.back()) == batch[i],
                "encode: CaseOps does not round-trip document " << first_doc + int64_t(i));
    ++stats.caseops_round_trips;
  }
  return out;
}

// A val document's sidecar entries (BOS first), counted into the stats.
std::vector<int64_t> sidecar_entries(const EncodedDoc& enc, const std::string& doc,
                                     const std::string& input, bool caseops, EncodeStats& stats) {
  PGOLF_CHECK(enc.pieces.size() == enc.ids.size(),
              "encode: " << enc.pieces.size() << " pieces for " << enc.ids.size() << " ids");
  auto bytes = token_byte_counts(enc.pieces, static_cast<int64_t>(input.size()), caseops);
  bytes.insert(bytes.begin(), 0);  // BOS stands for no text
  int64_t sum = 0;
  for (int64_t b : bytes) sum += b;
  stats.val_text_bytes += static_cast<int64_t>(doc.size());
  stats.val_sidecar_bytes += sum;
  stats.val_docs_uncovered += sum != static_cast<int64_t>(doc.size());
  return bytes;
}

}  // namespace

EncodeStats encode_documents(DocumentReader& docs, const DocEncoder& encode,
                             const EncodeOptions& opts, const EncodeProgress& progress) {
  check_options(opts);
  prepare_output_dir(opts);
  const bool sidecar = opts.byte_sidecar || opts.caseops;
  const auto t0 = std::chrono::steady_clock::now();
  EncodeStats stats;
  ShardSink sink(opts.output_dir, opts.shard_size, sidecar, stats);
  std::vector<std::string> batch;
  std::vector<uint16_t> toks;
  std::vector<int64_t> bytes;
  for (;;) {
    batch.clear();
    std::string doc;
    while (static_cast<int64_t>(batch.size()) < opts.batch_docs && docs.next(doc)) {
      batch.push_back(std::move(doc));
    }
    if (batch.empty()) break;
    const auto inputs = tokenizer_inputs(batch, opts.caseops, stats.docs_total, stats);
    const int64_t val_left = std::max<int64_t>(opts.num_val_docs - stats.docs_total, 0);
    const size_t with_pieces = sidecar ? std::min<size_t>(size_t(val_left), batch.size()) : 0;
    const auto encoded = encode(inputs, with_pieces);
    PGOLF_CHECK(encoded.size() == batch.size(), "encode: encoder returned "
                                                    << encoded.size() << " results for "
                                                    << batch.size() << " documents");
    for (size_t d = 0; d < encoded.size(); ++d) {
      const auto& doc_ids = encoded[d].ids;
      const bool val = stats.docs_total < opts.num_val_docs;
      sink.set_split(val ? "val" : "train");
      toks.assign(1, static_cast<uint16_t>(opts.bos_id));
      for (int id : doc_ids) {
        PGOLF_CHECK_INPUT(id >= 0 && id < opts.vocab_size,
                          docs.path() << ": document " << stats.docs_total << " encodes to id "
                                      << id << ", outside [0, " << opts.vocab_size << ")");
        toks.push_back(static_cast<uint16_t>(id));
      }
      bytes.clear();
      if (val && sidecar)
        bytes = sidecar_entries(encoded[d], batch[d], inputs[d], opts.caseops, stats);
      ++stats.docs_total;
      ++(val ? stats.docs_val : stats.docs_train);
      (val ? stats.tokens_val : stats.tokens_train) += static_cast<int64_t>(toks.size());
      sink.append(toks, bytes);
    }
    stats.bytes_in = docs.bytes_read();
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (progress) progress(stats);
  }
  sink.flush();
  PGOLF_CHECK_INPUT(stats.docs_total > 0, docs.path() << ": no documents found");
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return stats;
}

EncodeStats encode_documents(DocumentReader& docs, const BatchEncoder& encode,
                             const EncodeOptions& opts, const EncodeProgress& progress) {
  PGOLF_CHECK(!opts.byte_sidecar && !opts.caseops,
              "encode: a byte sidecar needs an encoder that returns pieces (DocEncoder)");
  const DocEncoder pieces_less = [&encode](const std::vector<std::string>& batch, size_t) {
    std::vector<EncodedDoc> out;
    for (auto& ids : encode(batch)) out.push_back({std::move(ids), {}});
    return out;
  };
  return encode_documents(docs, pieces_less, opts, progress);
}

}  // namespace pgolf::data
