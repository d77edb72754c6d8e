// Text/JSONL documents -> train/val shards, the way the reference export does it
// (reference-spec §2.2): [BOS] + ids per document, no EOS, the first num_val_docs documents to val,
// shards flushed every shard_size tokens and when the split changes, fineweb_{split}_NNNNNN.bin.
// The tokenizer is passed in as a function so this stays independent of SentencePiece.
#pragma once

#include <cstdint>
#include <fstream>
#include <functional>
#include <istream>
#include <memory>
#include <string>
#include <vector>

namespace pgolf::data {

// kText: documents separated by one or more blank (empty or whitespace-only) lines; a document's
// lines are joined with '\n'. kJsonl: one JSON object per line with a string field "text".
// kAuto: kJsonl for *.jsonl / *.json, else kText.
enum class DocFormat { kAuto, kText, kJsonl };
DocFormat parse_doc_format(const std::string& name);  // "auto" | "text" | "jsonl"

// Offset of the first byte of `s` that is not part of well-formed UTF-8 (overlong forms,
// surrogates and code points past U+10FFFF included); std::string::npos when all of it is.
size_t invalid_utf8_offset(const std::string& s);
// Replaces every maximal ill-formed subsequence of `s` with U+FFFD (as Python's
// decode(errors="replace")); returns how many were replaced.
int64_t replace_invalid_utf8(std::string& s);

// Streams documents from a file ("-" = standard input). Invalid UTF-8 is an input error naming
// the file, line and byte offset: the tokenizer would turn it into U+FFFD silently and change the
// byte count that bpb divides by. With replace_invalid_utf8 it is replaced and counted instead.
class DocumentReader {
 public:
  DocumentReader(const std::string& path, DocFormat format, bool replace_invalid_utf8 = false);
  // Stores the next document in `doc`; false at the end. Input errors name the file and line.
  bool next(std::string& doc);
  int64_t bytes_read() const { return bytes_; }
  int64_t docs_read() const { return docs_; }
  DocFormat format() const { return format_; }
  const std::string& path() const { return path_; }
  int64_t invalid_utf8_replaced() const { return replaced_; }  // sequences replaced so far

 private:
  bool next_text(std::string& doc);
  bool next_jsonl(std::string& doc);
  bool read_line(std::string& line);

  std::string path_;
  DocFormat format_;
  std::unique_ptr<std::ifstream> file_;
  std::istream* in_ = nullptr;
  int64_t line_no_ = 0;
  int64_t bytes_ = 0;
  int64_t docs_ = 0;
  bool replace_utf8_ = false;
  int64_t replaced_ = 0;
};

// Up to max_docs documents (<= 0: all), in file order (tokenizer training input).
std::vector<std::string> read_documents(DocumentReader& docs, int64_t max_docs);

// Encodes a batch of documents to token ids (one vector per document, no BOS).
using BatchEncoder =
    std::function<std::vector<std::vector<int>>(const std::vector<std::string>& docs)>;

// A tokenizer piece as the byte sidecar needs it: the text it covers in the tokenizer's input
// (SentencePiece's surface) and that span's byte offsets [begin, end).
struct PieceSpan {
  std::string surface;
  int64_t begin = 0, end = 0;
};
struct EncodedDoc {
  std::vector<int> ids;
  std::vector<PieceSpan> pieces;  // one per id, for the documents that asked for them
};
// Encodes docs[i] for every i; the first `with_pieces` documents also get their pieces.
using DocEncoder = std::function<std::vector<EncodedDoc>(const std::vector<std::string>& docs,
                                                         size_t with_pieces)>;

// One document's sidecar entries, one per piece: the original UTF-8 bytes each piece stands for
// (CaseOps surfaces decoded, caseops::original_byte_counts; otherwise the surface's bytes).
// Whitespace the tokenizer's normaliser dropped before the first or after the last piece
// (`text_bytes` = the tokenizer input's size) is credited to that piece, so the entries sum to
// the document's bytes; the record's exporter leaves it out (no FineWeb document starts or ends
// with whitespace, so their sidecars agree there).
std::vector<int64_t> token_byte_counts(const std::vector<PieceSpan>& pieces, int64_t text_bytes,
                                       bool caseops);

struct EncodeOptions {
  std::string output_dir;
  int64_t num_val_docs = 50000;    // the first N documents form the val split
  int64_t shard_size = 100000000;  // tokens per shard (the last shard of a split may be shorter)
  int64_t vocab_size = 0;          // every id must be in [0, vocab_size); vocab_size <= 65536
  int bos_id = 1;                  // prepended to every document
  int64_t batch_docs = 1024;       // documents handed to the encoder at once
  bool overwrite = false;          // replace existing fineweb_*.bin in output_dir
  // CaseOps: every document goes through caseops::encode before the tokenizer (and is checked to
  // decode back exactly); implies byte_sidecar.
  bool caseops = false;
  // Writes fineweb_val_bytes_NNNNNN.bin beside each val shard (sidecar.h): 0 for BOS, then
  // token_byte_counts of each document.
  bool byte_sidecar = false;
};

struct EncodeStats {
  int64_t docs_total = 0, docs_val = 0, docs_train = 0;
  int64_t tokens_val = 0, tokens_train = 0;
  int64_t files_val = 0, files_train = 0;
  int64_t bytes_in = 0;            // input bytes consumed so far
  double seconds = 0;              // wall time so far
  std::vector<std::string> files;  // shards written, in order (sidecars included)
  int64_t files_val_bytes = 0;     // byte sidecars written
  int64_t val_text_bytes = 0;      // UTF-8 bytes of the val documents (before CaseOps)
  int64_t val_sidecar_bytes = 0;   // sum of the val sidecars
  int64_t val_docs_uncovered = 0;  // val documents whose entries do not sum to their bytes
  int64_t caseops_round_trips = 0;  // documents checked: caseops::decode(encode(doc)) == doc
  int64_t tokens_total() const { return tokens_val + tokens_train; }
};

// Called after every batch (the caller throttles what it prints).
using EncodeProgress = std::function<void(const EncodeStats&)>;

EncodeStats encode_documents(DocumentReader& docs, const DocEncoder& encode,
                             const EncodeOptions& opts, const EncodeProgress& progress = {});
// Ids only (no byte_sidecar).
EncodeStats encode_documents(DocumentReader& docs, const BatchEncoder& encode,
                             const EncodeOptions& opts, const EncodeProgress& progress = {});

// Shard name for a split ("train" | "val") and index: fineweb_train_000003.bin.
std::string shard_file_name(const std::string& split, int64_t index);

}  // namespace pgolf::data
