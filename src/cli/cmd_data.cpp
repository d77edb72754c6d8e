// `pgolf data {encode, inspect, train-tokenizer}`: option parsing and printing only; the work is
// done by pgolf::data (documents, shards) and pgolf::tokenizer (SentencePiece).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "pgolf/cli/commands.h"
#include "pgolf/core/error.h"
#include "pgolf/core/log.h"
#include "pgolf/data/caseops.h"
#include "pgolf/data/encode.h"
#include "pgolf/data/shard.h"
#include "pgolf/tokenizer/tokenizer.h"
#include "pgolf/tokenizer/trainer.h"

namespace pgolf::cli {
namespace {

struct EncodeArgs {
  std::string input, tokenizer, output, format = "auto";
  int64_t num_val_docs = 50000, shard_size = 100000000, vocab_size = 0;
  int threads = 0;
  bool overwrite = false;
  bool replace_invalid_utf8 = false;
  bool caseops = false, byte_sidecar = false;
};

struct InspectArgs {
  std::string shard, tokenizer;
  int64_t offset = 0, count = 64;
};

struct TrainTokArgs {
  std::string input, output, format = "auto";
  int64_t vocab_size = 1024, max_docs = 0;
  bool replace_invalid_utf8 = false;
  int threads = 0;
  bool verbose = false;
  bool caseops = false;
};

// `input_bytes` > 0 (a regular file) adds the share read and the time left.
std::string progress_line(const data::EncodeStats& s, int64_t input_bytes = 0) {
  const double secs = std::max(s.seconds, 1e-9);
  std::string line = core::format(
      "encode: %lld docs (val %lld, train %lld), %lld tokens, %.1f MB read, "
      "%.2f MB/s, %.2f M tokens/s",
      static_cast<long long>(s.docs_total), static_cast<long long>(s.docs_val),
      static_cast<long long>(s.docs_train), static_cast<long long>(s.tokens_total()),
      s.bytes_in / 1e6, s.bytes_in / 1e6 / secs, s.tokens_total() / 1e6 / secs);
  if (input_bytes > 0)
    line += core::format(", %.0f%%, ", 100.0 * s.bytes_in / input_bytes) +
            core::eta_text(static_cast<double>(s.bytes_in), static_cast<double>(input_bytes), secs);
  return line;
}

void report_replaced(const data::DocumentReader& docs) {
  if (docs.invalid_utf8_replaced() > 0)
    std::cerr << "warning: " << docs.invalid_utf8_replaced() << " invalid UTF-8 sequence(s) in "
              << docs.path() << " replaced with U+FFFD (--replace-invalid-utf8)\n";
}

// With --caseops the operators must be pieces of their own (user-defined symbols), or the
// tokenizer would spell them with byte-fallback pieces and the transform would cost bytes.
void check_caseops_tokenizer(const tokenizer::Tokenizer& tok) {
  for (const auto& sym : data::caseops::operator_symbols())
    PGOLF_CHECK_INPUT(tok.piece_to_id(sym) >= 0,
                      "tokenizer " << tok.path() << " has no piece for the CaseOps operator U+"
                                   << core::format("%04X", 0xE000 + (sym[2] & 0x3F))
                                   << "; train one with `pgolf data train-tokenizer --caseops`");
}

// Ids for every document; pieces (id, surface, span) for the first `with_pieces` (the sidecar's).
data::DocEncoder piece_encoder(const tokenizer::Tokenizer& tok, int threads) {
  return [&tok, threads](const std::vector<std::string>& batch, size_t with_pieces) {
    std::vector<data::EncodedDoc> out(batch.size());
    for (size_t i = 0; i < with_pieces; ++i) {
      for (auto& p : tok.encode_pieces(batch[i])) {
        out[i].ids.push_back(p.id);
        out[i].pieces.push_back({std::move(p.surface), p.begin, p.end});
      }
    }
    if (with_pieces < batch.size()) {
      const std::vector<std::string> rest(batch.begin() + static_cast<ptrdiff_t>(with_pieces),
                                          batch.end());
      auto ids = tok.encode_batch(rest, threads);
      for (size_t i = 0; i < ids.size(); ++i) out[with_pieces + i].ids = std::move(ids[i]);
    }
    return out;
  };
}

void report_sidecar(const data::EncodeStats& s, bool caseops) {
  if (caseops)
    std::cout << "caseops: " << s.caseops_round_trips
              << " documents transformed, each decodes back to its exact bytes\n";
  std::cout << "byte sidecar: " << s.files_val_bytes << " fineweb_val_bytes_* file(s); val text "
            << s.val_text_bytes << " bytes, sidecar sum " << s.val_sidecar_bytes << " bytes";
  if (s.val_docs_uncovered > 0)
    std::cout << " (" << s.val_docs_uncovered << " document(s) whose pieces do not cover all "
              << "their bytes)";
  std::cout << "\n";
  if (s.val_docs_uncovered > 0)
    std::cerr << "warning: the sidecar misses " << s.val_text_bytes - s.val_sidecar_bytes
              << " byte(s) of " << s.val_docs_uncovered << " val document(s); bpb over this "
              << "split divides by the sidecar's sum\n";
}

int run_encode(const EncodeArgs& a) {
  tokenizer::Tokenizer tok(a.tokenizer);
  if (a.caseops) check_caseops_tokenizer(tok);
  data::EncodeOptions opts;
  opts.output_dir = a.output;
  opts.num_val_docs = a.num_val_docs;
  opts.shard_size = a.shard_size;
  opts.vocab_size = a.vocab_size > 0 ? a.vocab_size : tok.vocab_size();
  opts.bos_id = tok.bos_id();
  opts.overwrite = a.overwrite;
  opts.caseops = a.caseops;
  opts.byte_sidecar = a.byte_sidecar || a.caseops;
  PGOLF_CHECK_INPUT(opts.bos_id >= 0, "tokenizer " << a.tokenizer << " has no BOS piece");
  data::DocumentReader docs(a.input, data::parse_doc_format(a.format), a.replace_invalid_utf8);
  std::error_code size_err;
  const auto size = a.input == "-" ? 0 : std::filesystem::file_size(a.input, size_err);
  const int64_t input_bytes = size_err ? 0 : static_cast<int64_t>(size);
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  auto last = std::chrono::steady_clock::now();
  auto progress = [&](const data::EncodeStats& s) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last < std::chrono::seconds(tty ? 1 : 10)) return;
    last = now;
    std::cerr << (tty ? "\r" : "") << progress_line(s, input_bytes) << (tty ? "" : "\n")
              << std::flush;
  };
  const auto stats = data::encode_documents(docs, piece_encoder(tok, a.threads), opts, progress);
  if (tty) std::cerr << "\r\033[K";
  std::cout << progress_line(stats) << core::format(" in %.2f s\n", stats.seconds);
  report_replaced(docs);
  std::cout << "wrote " << stats.files_val << " val and " << stats.files_train
            << " train shard(s) to " << a.output << " (val tokens " << stats.tokens_val
            << ", train tokens " << stats.tokens_train << ")\n";
  if (opts.byte_sidecar) report_sidecar(stats, a.caseops);
  if (stats.docs_train == 0) {
    std::cerr << "warning: all " << stats.docs_total << " documents went to val (--num-val-docs "
              << a.num_val_docs << "); there is no train split\n";
  }
  return kExitOk;
}

int run_inspect(const InspectArgs& a) {
  data::ShardReader shard(a.shard);
  const auto& info = shard.info();
  std::unique_ptr<tokenizer::Tokenizer> tok;
  if (!a.tokenizer.empty()) tok = std::make_unique<tokenizer::Tokenizer>(a.tokenizer);
  const auto st = data::shard_stats(shard, tok ? tok->bos_id() : 1);
  std::cout << "shard:        " << info.path << "\n"
            << "file bytes:   " << info.file_bytes << " (1024 header + 2*" << info.num_tokens
            << ")\n"
            << "header:       magic " << info.magic << ", version " << info.version
            << ", num_tokens " << info.num_tokens
            << ", other words non-zero: " << st.nonzero_header_words << "\n"
            << "token ids:    min " << st.min_id << ", max " << st.max_id << ", BOS count "
            << st.bos_count << "\n";
  const int64_t begin = std::min(std::max<int64_t>(a.offset, 0), info.num_tokens);
  const int64_t end = std::min(info.num_tokens, begin + std::max<int64_t>(a.count, 0));
  std::vector<int> ids(shard.tokens() + begin, shard.tokens() + end);
  std::cout << "tokens [" << begin << ", " << end << "):";
  for (int id : ids) std::cout << " " << id;
  std::cout << "\n";
  if (tok) {
    PGOLF_CHECK_INPUT(st.max_id < tok->vocab_size() || info.num_tokens == 0,
                      "shard " << info.path << " holds id " << st.max_id << " but tokenizer "
                               << a.tokenizer << " has only " << tok->vocab_size() << " pieces");
    // Decode document by document so BOS (a control piece that decodes to nothing) stays visible.
    std::string text;
    std::vector<int> piece;
    for (size_t k = 0; k <= ids.size(); ++k) {
      if (k == ids.size() || ids[k] == tok->bos_id()) {
        text += tok->decode(piece);
        piece.clear();
        if (k < ids.size()) text += "[BOS]";
      } else {
        piece.push_back(ids[k]);
      }
    }
    std::cout << "decoded:      " << text << std::endl;
  }
  return kExitOk;
}

int run_train_tokenizer(const TrainTokArgs& a) {
  data::DocumentReader reader(a.input, data::parse_doc_format(a.format), a.replace_invalid_utf8);
  const auto t0 = std::chrono::steady_clock::now();
  auto raw = data::read_documents(reader, a.max_docs);
  report_replaced(reader);
  std::vector<std::string> docs;
  int64_t bytes = 0;
  for (auto& d : raw) {
    auto text = tokenizer::prepare_training_text(std::move(d));
    if (text.empty()) continue;  // the reference skips empty documents
    if (a.caseops) text = data::caseops::encode(text);  // after the strip, as the record
    bytes += static_cast<int64_t>(text.size());
    docs.push_back(std::move(text));
  }
  int64_t too_long = 0;
  for (const auto& d : docs)
    too_long += static_cast<int64_t>(d.size()) > tokenizer::kMaxTrainingDocBytes;
  std::cout << "train-tokenizer: " << docs.size() << " documents (" << bytes / 1e6 << " MB) from "
            << reader.path() << ", vocab " << a.vocab_size << std::endl;
  if (too_long > 0) {
    std::cout << "note: " << too_long << " document(s) longer than "
              << tokenizer::kMaxTrainingDocBytes << " bytes are skipped by SentencePiece "
              << "(its default max_sentence_length, as in the reference)" << std::endl;
  }
  tokenizer::TrainTokenizerOptions opts;
  opts.model_prefix = a.output;
  opts.vocab_size = a.vocab_size;
  opts.threads = a.threads;
  opts.verbose = a.verbose;
  if (a.caseops) {
    const auto& ops = data::caseops::operator_symbols();
    opts.user_defined_symbols.assign(ops.begin(), ops.end());
  }
  const auto model = tokenizer::train_tokenizer(docs, opts);
  tokenizer::Tokenizer tok(model);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "wrote " << model << " and " << a.output << ".vocab (vocab " << tok.vocab_size()
            << ") in " << core::format("%.1f", secs) << " s\n";
  return kExitOk;
}

}  // namespace

Command register_data(CLI::App& app) {
  auto* sub =
      app.add_subcommand("data", "encode text to shards, inspect shards, train a tokenizer");
  sub->require_subcommand(1);

  auto enc = std::make_shared<EncodeArgs>();
  auto* e = sub->add_subcommand("encode",
                                "UTF-8 text (blank-line-separated documents) or JSONL "
                                "(\"text\" field) -> fineweb_{val,train}_NNNNNN.bin");
  e->add_option("input", enc->input, "input file, or - for standard input")->required();
  e->add_option("--tokenizer", enc->tokenizer, "SentencePiece .model")->required();
  e->add_option("--output,-o", enc->output, "output folder for the shards")->required();
  e->add_option("--num-val-docs", enc->num_val_docs, "first N documents form val")
      ->capture_default_str();
  e->add_option("--shard-size", enc->shard_size, "tokens per shard")->capture_default_str();
  e->add_option("--format", enc->format, "auto | text | jsonl")->capture_default_str();
  e->add_option("--vocab-size", enc->vocab_size, "id bound (default: the tokenizer's vocab)");
  e->add_option("--threads", enc->threads, "encoder threads (0 = all cores)");
  e->add_flag("--overwrite", enc->overwrite, "replace existing fineweb_*.bin in the folder");
  e->add_flag("--caseops", enc->caseops,
              "apply the lossless CaseOps case transform (lossless_caps_caseops_v1) before the "
              "tokenizer (which needs its operators as pieces: train-tokenizer --caseops); "
              "writes the val byte sidecar");
  e->add_flag("--byte-sidecar", enc->byte_sidecar,
              "write fineweb_val_bytes_NNNNNN.bin: each val token's original UTF-8 bytes");
  e->add_flag("--replace-invalid-utf8", enc->replace_invalid_utf8,
              "replace invalid UTF-8 with U+FFFD and say how often (default: an error naming the "
              "line; the replacement changes the byte count bpb divides by)");

  auto ins = std::make_shared<InspectArgs>();
  auto* i = sub->add_subcommand("inspect", "print a shard's header, token statistics and excerpt");
  i->add_option("shard", ins->shard, "shard file")->required();
  i->add_option("--tokenizer", ins->tokenizer, "SentencePiece .model to decode the excerpt");
  i->add_option("--offset", ins->offset, "first token of the excerpt")->capture_default_str();
  i->add_option("--count", ins->count, "tokens in the excerpt")->capture_default_str();

  auto trn = std::make_shared<TrainTokArgs>();
  auto* t = sub->add_subcommand(
      "train-tokenizer",
      "train a SentencePiece BPE model with the records' settings (sp1024, sp4096 and sp8192 "
      "differ only in --vocab-size; the sp8192 records trained on --max-docs 5000000)");
  t->add_option("input", trn->input, "documents (text or JSONL), or - for standard input")
      ->required();
  t->add_option("--output,-o", trn->output, "model prefix: writes PREFIX.model, PREFIX.vocab")
      ->required();
  t->add_option("--vocab-size", trn->vocab_size, "vocabulary size")->capture_default_str();
  t->add_option("--max-docs", trn->max_docs, "use only the first N documents (0 = all)")
      ->capture_default_str();
  t->add_option("--format", trn->format, "auto | text | jsonl")->capture_default_str();
  t->add_option("--threads", trn->threads, "trainer threads (0 = all cores)");
  t->add_flag("--verbose", trn->verbose, "show SentencePiece's training log");
  t->add_flag("--caseops", trn->caseops,
              "train on CaseOps-transformed text with its four operators reserved as "
              "user-defined pieces (ids 4-7), as the 1.0678 record's tokenizer");
  t->add_flag("--replace-invalid-utf8", trn->replace_invalid_utf8,
              "replace invalid UTF-8 with U+FFFD (default: an error naming the line)");

  return {sub, [=]() {
            if (e->parsed()) return run_encode(*enc);
            if (i->parsed()) return run_inspect(*ins);
            return run_train_tokenizer(*trn);
          }};
}

}  // namespace pgolf::cli
