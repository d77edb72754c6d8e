// SentencePiece trainer driver with the reference's sp1024 settings (reference-spec §3.1,
// data/download_hf_docs_and_tokenize.py build_sentencepiece_tokenizer).
#include "pgolf/tokenizer/trainer.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "pgolf/core/error.h"
#include "pgolf/core/files.h"

namespace pgolf::tokenizer {
namespace {

// Code points Python's str.strip() removes (str.isspace): ASCII whitespace, the four ASCII
// separators 0x1C-0x1F and Unicode spaces.
bool is_python_space(uint32_t cp) {
  if ((cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20)) return true;
  if (cp == 0x85 || cp == 0xA0 || cp == 0x1680 || cp == 0x2028 || cp == 0x2029) return true;
  if ((cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F || cp == 0x205F || cp == 0x3000) return true;
  return false;
}

// Decodes the UTF-8 code point starting at s[i]; invalid bytes decode to a non-space value.
uint32_t decode_at(const std::string& s, size_t i, size_t* len) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) {
    *len = 1;
    return 0xFFFFFFFF;
  }
  uint32_t cp = n == 1 ? c : c & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  *len = n;
  return cp;
}

// Feeds the prepared documents to the trainer, one "sentence" per document (as the reference's
// sentence_iterator does).
class DocIterator : public sentencepiece::SentenceIterator {
 public:
  explicit DocIterator(const std::vector<std::string>& docs) : docs_(docs) {}
  bool done() const override { return i_ >= docs_.size(); }
  void Next() override { ++i_; }
  const std::string& value() const override { return docs_[i_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  const std::vector<std::string>& docs_;
  size_t i_ = 0;
};

}  // namespace

std::string prepare_training_text(std::string text) {
  for (auto& c : text) {
    if (c == '\0') c = ' ';
  }
  size_t begin = 0;
  while (begin < text.size()) {
    size_t len = 0;
    if (!is_python_space(decode_at(text, begin, &len))) break;
    begin += len;
  }
  size_t end = text.size();
  while (end > begin) {
    size_t start = end - 1;  // back up to the first byte of the last code point
    while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    size_t len = 0;
    const uint32_t cp = decode_at(text, start, &len);
    if (start + len != end || !is_python_space(cp)) break;
    end = start;
  }
  return text.substr(begin, end - begin);
}

std::map<std::string, std::string> trainer_arguments(const TrainTokenizerOptions& opts) {
  int threads = opts.threads > 0
                    ? opts.threads
                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::map<std::string, std::string> args = {{"model_type", "bpe"},
          {"vocab_size", std::to_string(opts.vocab_size)},
          {"character_coverage", "0.999"},
          {"byte_fallback", "true"},
          {"split_digits", "true"},
          {"normalization_rule_name", "nmt_nfkc"},
          {"add_dummy_prefix", "false"},
          {"pad_id", "0"},
          {"bos_id", "1"},
          {"eos_id", "2"},
          {"unk_id", "3"},
          {"hard_vocab_limit", "false"},
          {"num_threads", std::to_string(std::min(threads, 128))},
          {"minloglevel", opts.verbose ? "0" : "2"}};
  if (!opts.user_defined_symbols.empty()) {
    std::string joined;
    for (const auto& sym : opts.user_defined_symbols) {
      PGOLF_CHECK_INPUT(!sym.empty() && sym.find(',') == std::string::npos,
                        "train-tokenizer: user-defined symbol \"" << sym << "\" is empty or has a comma");
      joined += (joined.empty() ? "" : ",") + sym;
    }
    args["user_defined_symbols"] = joined;
  }
  return args;
}

std::string train_tokenizer(const std::vector<std::string>& docs,
                            const TrainTokenizerOptions& opts) {
  PGOLF_CHECK_INPUT(!opts.model_prefix.empty(), "train-tokenizer: output prefix is empty");
  PGOLF_CHECK_INPUT(opts.vocab_size >= 260 && opts.vocab_size <= 65536,
                    "train-tokenizer: vocab size must be in [260, 65536] (4 specials + 256 byte "
                    "pieces; uint16 shards), found "
                        << opts.vocab_size);
  PGOLF_CHECK_INPUT(!docs.empty(), "train-tokenizer: no non-empty documents to train on");
  const auto parent = std::filesystem::path(opts.model_prefix).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  PGOLF_CHECK_INPUT(!ec, "train-tokenizer: cannot create folder " << parent.string() << " ("
                                                                  << ec.message() << ")");
  // Train into memory, then write both files atomically: no half-written model after a crash,
  // and the model bytes do not depend on a temporary file name.
  const auto args = trainer_arguments(opts);
  std::unordered_map<std::string, std::string> kwargs(args.begin(), args.end());
  DocIterator it(docs);
  std::string proto;
  const auto status = sentencepiece::SentencePieceTrainer::Train(kwargs, &it, &proto);
  PGOLF_CHECK_INPUT(status.ok(), "train-tokenizer: SentencePiece training failed for "
                                     << opts.model_prefix << " (" << status.ToString() << ")");
  sentencepiece::SentencePieceProcessor sp;
  const auto loaded = sp.LoadFromSerializedProto(proto);
  PGOLF_CHECK(loaded.ok(),
              "train-tokenizer: trained model does not load (" << loaded.ToString() << ")");
  // The .vocab file SentencePiece itself writes: "piece<TAB>score" per id.
  std::ostringstream vocab;
  for (int id = 0; id < sp.GetPieceSize(); ++id) {
    vocab << sp.IdToPiece(id) << "\t" << sp.GetScore(id) << "\n";
  }
  core::write_file_atomic(opts.model_prefix + ".vocab", vocab.str());
  core::write_file_atomic(opts.model_prefix + ".model", proto);
  return opts.model_prefix + ".model";
}

}  // namespace pgolf::tokenizer
