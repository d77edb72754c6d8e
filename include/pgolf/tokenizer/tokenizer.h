// SentencePiece model behind a pimpl (reference-spec §3.1): loading with clear errors, encoding
// (also batched over threads), decoding and the piece predicates the byte tables need.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace pgolf::tokenizer {

class Tokenizer {
 public:
  // Loads a SentencePiece .model; input error naming the path when missing or invalid.
  explicit Tokenizer(const std::string& model_path);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  const std::string& path() const;
  int64_t vocab_size() const;

  std::vector<int> encode(const std::string& text) const;
  // One id vector per text, in order; threads <= 0 means all hardware threads.
  std::vector<std::vector<int>> encode_batch(const std::vector<std::string>& texts,
                                             int threads = 0) const;
  // Ids outside [0, vocab_size) are an input error.
  std::string decode(const std::vector<int>& ids) const;

  // Pieces with the text each covers in `text` (SentencePiece's surface, [begin, end) byte
  // offsets): what a byte sidecar counts. Byte-fallback pieces of one character: the last holds
  // its surface, the others are empty.
  struct Piece {
    int id = 0;
    std::string surface;
    int64_t begin = 0, end = 0;
  };
  std::vector<Piece> encode_pieces(const std::string& text) const;
  // The id of a piece's text, or -1 when the vocabulary lacks it (SentencePiece answers unk).
  int piece_to_id(const std::string& piece) const;

  std::string id_to_piece(int id) const;
  bool is_control(int id) const;
  bool is_unknown(int id) const;
  bool is_unused(int id) const;
  bool is_byte(int id) const;
  int bos_id() const;
  int eos_id() const;
  int pad_id() const;
  int unk_id() const;

 private:
  void check_id(int id) const;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The reference's startup check: the tokenizer's vocab must equal VOCAB_SIZE.
void check_vocab_size(const Tokenizer& tok, int64_t vocab_size);

}  // namespace pgolf::tokenizer
