// CaseOps (`lossless_caps_caseops_v1`, the 1.0678 record's lossless_caps.py v2 rules): a
// bijective text transform that moves ASCII capitalisation into four operator characters from
// the Private Use Area, reserved as SentencePiece user-defined pieces, so that a tokenizer reuses
// lower-case pieces across case variants. Over maximal runs of ASCII letters ("words"):
//   lower-case word  -> unchanged             ALL-CAPS word (>= 2 letters) -> ALLCAPS + lower
//   Title-case word  -> TITLE + lower         other (mixed, single capital) -> [TITLE if the first
//                                             letter is upper] + each later capital as CAPNEXT + lower
// and a literal operator character in the text becomes ESC + that character. Nothing else
// changes, so the transform works on UTF-8 bytes directly.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pgolf::data::caseops {

// U+E001..U+E004, the record's DEFAULT_V2_TITLE/ALLCAPS/CAPNEXT/ESC.
constexpr uint32_t kTitle = 0xE001;
constexpr uint32_t kAllCaps = 0xE002;
constexpr uint32_t kCapNext = 0xE003;
constexpr uint32_t kEsc = 0xE004;

// The operators' UTF-8 spellings in the order the record reserves them as user-defined pieces
// (so they get ids 4..7 after pad/bos/eos/unk).
const std::array<std::string, 4>& operator_symbols();

// The forward transform. `text` is UTF-8 (bytes >= 0x80 are copied unchanged).
std::string encode(std::string_view text);

// The inverse; a malformed transformed text (an operator where the rules cannot put one) is an
// input error naming the byte offset and the rule broken.
std::string decode(std::string_view text);

// The decoder's state machine, fed in pieces: each call returns the original bytes that the
// piece stands for (operators stand for none). State carries across calls, as a tokenizer's
// pieces may split an operator from the letter it applies to.
class Decoder {
 public:
  void feed(std::string_view piece, std::string& out);
  // Bytes of original text `piece` stands for (what feed would append).
  int64_t original_bytes(std::string_view piece);
  // Input error if an escape or a capitalisation operator is still waiting for its letter.
  void finish() const;

 private:
  enum class Mode { kNone, kTitle, kAllCaps };
  void fail(const char* why) const;
  int64_t offset_ = 0;  // bytes fed so far, for error messages
  bool pending_escape_ = false;
  Mode pending_mode_ = Mode::kNone;
  bool active_allcaps_ = false;
  bool pending_capnext_ = false;
  bool in_word_ = false;
};

// The byte sidecar's per-token counts (the record's surface_piece_original_byte_counts): the
// original UTF-8 bytes each surface stands for, decoding the surfaces in order.
std::vector<int64_t> original_byte_counts(const std::vector<std::string>& surfaces);

}  // namespace pgolf::data::caseops
