// SentencePiece wrapper (see tokenizer.h). SentencePieceProcessor's encode methods are const and
// safe to call from several threads at once, which encode_batch relies on.
#include "pgolf/tokenizer/tokenizer.h"

#include <sentencepiece_processor.h>
#include <sys/stat.h>

#include <algorithm>
#include <string_view>
#include <thread>

#include "pgolf/core/error.h"
#include "pgolf/core/files.h"

namespace pgolf::tokenizer {
namespace {
// Vocabularies of 1K-64K pieces take well under 10 MB; anything past this is not a model.
constexpr int64_t kMaxModelBytes = int64_t{1} << 28;
}  // namespace

struct Tokenizer::Impl {
  std::string path;
  sentencepiece::SentencePieceProcessor sp;
};

Tokenizer::Tokenizer(const std::string& model_path) : impl_(std::make_unique<Impl>()) {
  impl_->path = model_path;
  PGOLF_CHECK_INPUT(model_path.find('\0') == std::string::npos,
                    "tokenizer path contains a NUL byte (TOKENIZER_PATH)");
  // Only a regular file of plausible size is read, and by us: a folder, a FIFO or a device such
  // as /dev/zero given as TOKENIZER_PATH must be an error, not a hang or an endless read.
  struct stat st {};
  PGOLF_CHECK_INPUT(::stat(model_path.c_str(), &st) == 0,
                    "tokenizer " << model_path << ": file not found (expected a SentencePiece "
                                 << ".model, see TOKENIZER_PATH)");
  PGOLF_CHECK_INPUT(S_ISREG(st.st_mode), "tokenizer " << model_path << ": not a regular file "
                                                      << "(expected a SentencePiece .model)");
  PGOLF_CHECK_INPUT(st.st_size <= kMaxModelBytes,
                    "tokenizer " << model_path << ": " << st.st_size << " bytes, more than "
                                 << kMaxModelBytes << "; not a SentencePiece model?");
  const auto bytes = core::read_file(model_path);
  sentencepiece::util::Status status;
  try {
    status = impl_->sp.LoadFromSerializedProto(
        std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  } catch (const std::exception& e) {
    // SentencePiece's trie builder (darts_clone) throws on some malformed models, e.g. an empty
    // piece (found by tests/fuzz/tokenizer_fuzz.cpp).
    PGOLF_FAIL_INPUT("tokenizer " << model_path << ": not a valid SentencePiece model ("
                                  << e.what() << ")");
  }
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

std::vector<Tokenizer::Piece> Tokenizer::encode_pieces(const std::string& text) const {
  sentencepiece::ImmutableSentencePieceText spt;
  const auto status = impl_->sp.Encode(text, spt.mutable_proto());
  PGOLF_CHECK(status.ok(),
              "tokenizer " << impl_->path << ": encode failed (" << status.ToString() << ")");
  std::vector<Piece> out;
  out.reserve(spt.pieces_size());
  for (const auto& p : spt.pieces())
    out.push_back({static_cast<int>(p.id()), p.surface(), static_cast<int64_t>(p.begin()),
                   static_cast<int64_t>(p.end())});
  return out;
}

int Tokenizer::piece_to_id(const std::string& piece) const {
  const int id = impl_->sp.PieceToId(piece);
  return id == impl_->sp.unk_id() && piece != impl_->sp.IdToPiece(id) ? -1 : id;
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
