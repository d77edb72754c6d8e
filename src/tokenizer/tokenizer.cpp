// SentencePiece wrapper (see tokenizer.h). SentencePieceProcessor's encode methods are const and
// safe to call from several threads at once, which encode_batch relies on.
#include "pgolf/tokenizer/tokenizer.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <thread>

#include "pgolf/core/error.h"
#include "pgolf/core/files.h"

namespace pgolf::tokenizer {

struct Tokenizer::Impl {
  std::string path;
  sentencepiece::SentencePieceProcessor sp;
};

Tokenizer::Tokenizer(const std::string& model_path) : impl_(std::make_unique<Impl>()) {
  impl_->path = model_path;
  PGOLF_CHECK_INPUT(core::file_exists(model_path),
                    "tokenizer " << model_path << ": file not found (expected a SentencePiece "
                                 << ".model, see TOKENIZER_PATH)");
  const auto status = impl_->sp.Load(model_path);
  PGOLF_CHECK_INPUT(status.ok(), "tokenizer " << model_path << ": not a valid SentencePiece "
                                              << "model (" << status.ToString() << ")");
  PGOLF_CHECK_INPUT(impl_->sp.GetPieceSize() > 0,
                    "tokenizer " << model_path << ": model has an empty vocabulary");
}

Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

const std::string& Tokenizer::path() const { return impl_->path; }
int64_t Tokenizer::vocab_size() const { return impl_->sp.GetPieceSize(); }

std::vector<int> Tokenizer::encode(const std::string& text) const {
  std::vector<int> ids;
  const auto status = impl_->sp.Encode(text, &ids);
  PGOLF_CHECK(status.ok(),
              "tokenizer " << impl_->path << ": encode failed (" << status.ToString() << ")");
  return ids;
}

std::vector<std::vector<int>> Tokenizer::encode_batch(const std::vector<std::string>& texts,
                                                      int threads) const {
  std::vector<std::vector<int>> out(texts.size());
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const size_t n_threads = std::min<size_t>(static_cast<size_t>(threads), texts.size());
  if (n_threads <= 1) {
    for (size_t i = 0; i < texts.size(); ++i) out[i] = encode(texts[i]);
    return out;
  }
  // Interleaved assignment balances long and short documents; failures are re-thrown here.
  std::vector<std::thread> pool;
  std::vector<std::string> errors(n_threads);
  for (size_t t = 0; t < n_threads; ++t) {
    pool.emplace_back([&, t]() {
      for (size_t i = t; i < texts.size(); i += n_threads) {
        const auto status = impl_->sp.Encode(texts[i], &out[i]);
        if (!status.ok()) {
          errors[t] = status.ToString();
          return;
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  for (const auto& e : errors) {
    PGOLF_CHECK(e.empty(), "tokenizer " << impl_->path << ": encode failed (" << e << ")");
  }
  return out;
}

std::string Tokenizer::decode(const std::vector<int>& ids) const {
  for (int id : ids) check_id(id);
  std::string text;
  const auto status = impl_->sp.Decode(ids, &text);
  PGOLF_CHECK(status.ok(),
              "tokenizer " << impl_->path << ": decode failed (" << status.ToString() << ")");
  return text;
}

void Tokenizer::check_id(int id) const {
  PGOLF_CHECK_INPUT(id >= 0 && id < impl_->sp.GetPieceSize(),
                    "tokenizer " << impl_->path << ": id " << id << " outside [0, "
                                 << impl_->sp.GetPieceSize() << ")");
}

std::string Tokenizer::id_to_piece(int id) const {
  check_id(id);
  return impl_->sp.IdToPiece(id);
}
bool Tokenizer::is_control(int id) const {
  check_id(id);
  return impl_->sp.IsControl(id);
}
bool Tokenizer::is_unknown(int id) const {
  check_id(id);
  return impl_->sp.IsUnknown(id);
}
bool Tokenizer::is_unused(int id) const {
  check_id(id);
  return impl_->sp.IsUnused(id);
}
bool Tokenizer::is_byte(int id) const {
  check_id(id);
  return impl_->sp.IsByte(id);
}
int Tokenizer::bos_id() const { return impl_->sp.bos_id(); }
int Tokenizer::eos_id() const { return impl_->sp.eos_id(); }
int Tokenizer::pad_id() const { return impl_->sp.pad_id(); }
int Tokenizer::unk_id() const { return impl_->sp.unk_id(); }

void check_vocab_size(const Tokenizer& tok, int64_t vocab_size) {
  PGOLF_CHECK_INPUT(tok.vocab_size() == vocab_size,
                    "VOCAB_SIZE=" << vocab_size << " does not match tokenizer " << tok.path()
                                  << ", whose vocab size is " << tok.vocab_size());
}

}  // namespace pgolf::tokenizer
