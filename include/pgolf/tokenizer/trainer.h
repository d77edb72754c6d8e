// SentencePiece BPE training with the reference's sp1024 settings (reference-spec §3.1):
// bpe, character_coverage 0.999, byte_fallback, split_digits, nmt_nfkc, no dummy prefix,
// pad/bos/eos/unk = 0/1/2/3, hard_vocab_limit false.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pgolf::tokenizer {

// The reference's text preparation for tokenizer training: NUL -> space, then strip leading and
// trailing whitespace (Python str.strip, i.e. Unicode whitespace). Callers skip empty results.
std::string prepare_training_text(std::string text);

// SentencePiece's default max_sentence_length (kept, as in the reference): longer documents are
// skipped by the trainer.
constexpr int64_t kMaxTrainingDocBytes = 4192;

struct TrainTokenizerOptions {
  std::string model_prefix;  // writes <prefix>.model and <prefix>.vocab
  int64_t vocab_size = 1024;
  int threads = 0;       // 0 = all hardware threads
  bool verbose = false;  // show SentencePiece's own INFO and WARNING log
  // Reserved as user-defined pieces, ids 4.. in this order (the CaseOps operators; the record's
  // reserve_text_transform_controls).
  std::vector<std::string> user_defined_symbols;
};

// The trainer arguments (exposed so tests can check them against the reference table); the model
// is returned in memory, so there is no model_prefix among them.
std::map<std::string, std::string> trainer_arguments(const TrainTokenizerOptions& opts);

// Trains on `docs` (already prepared and non-empty) and writes <prefix>.model and <prefix>.vocab
// atomically (temp file + rename each). Returns the path of the .model file.
std::string train_tokenizer(const std::vector<std::string>& docs,
                            const TrainTokenizerOptions& opts);

}  // namespace pgolf::tokenizer
