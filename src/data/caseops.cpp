// CaseOps transform (see caseops.h): the encoder over ASCII letter runs and the decoder's state
// machine, which also gives the byte sidecar its per-piece original byte counts (the record's
// decode_lossless_caps_v2 and surface_piece_original_byte_counts rules, error for error).
#include "pgolf/data/caseops.h"

#include <algorithm>

#include "pgolf/core/error.h"

namespace pgolf::data::caseops {
namespace {

bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
bool is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
bool is_alpha(unsigned char c) { return is_upper(c) || is_lower(c); }
char to_lower(unsigned char c) { return static_cast<char>(is_upper(c) ? c + 32 : c); }
char to_upper(unsigned char c) { return static_cast<char>(is_lower(c) ? c - 32 : c); }

// The operator code point whose UTF-8 spelling (EE 80 81..84) starts at s[i], or 0.
uint32_t operator_at(std::string_view s, size_t i) {
  if (i + 3 > s.size()) return 0;
  const auto b0 = static_cast<unsigned char>(s[i]), b1 = static_cast<unsigned char>(s[i + 1]),
             b2 = static_cast<unsigned char>(s[i + 2]);
  if (b0 != 0xEE || b1 != 0x80 || b2 < 0x81 || b2 > 0x84) return 0;
  return 0xE000 + (b2 - 0x80);
}

// Length of the UTF-8 character whose lead byte is c (1 for ASCII and for stray bytes).
size_t char_length(unsigned char c) {
  if (c >= 0xF0) return 4;
  if (c >= 0xE0) return 3;
  if (c >= 0xC0) return 2;
  return 1;
}

const std::string& symbol(uint32_t op) { return operator_symbols()[op - kTitle]; }

}  // namespace

const std::array<std::string, 4>& operator_symbols() {
  static const std::array<std::string, 4> symbols = {"\xEE\x80\x81", "\xEE\x80\x82",
                                                     "\xEE\x80\x83", "\xEE\x80\x84"};
  return symbols;
}

std::string encode(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    if (operator_at(text, i) != 0) {  // a literal operator character: escaped
      out += symbol(kEsc);
      out.append(text.substr(i, 3));
      i += 3;
      continue;
    }
    if (!is_alpha(static_cast<unsigned char>(text[i]))) {
      out += text[i++];
      continue;
    }
    size_t j = i + 1;
    while (j < n && is_alpha(static_cast<unsigned char>(text[j]))) ++j;
    const std::string_view word = text.substr(i, j - i);
    size_t uppers = 0;
    for (char c : word) uppers += is_upper(static_cast<unsigned char>(c));
    const bool first_upper = is_upper(static_cast<unsigned char>(word[0]));
    if (uppers == 0) {
      out.append(word);
    } else {
      // Python's "".islower() is False, so one capital letter alone takes the mixed branch,
      // which spells it TITLE + letter as well.
      const bool all_caps = word.size() >= 2 && uppers == word.size();
      const bool title = word.size() >= 2 && first_upper && uppers == 1;
      if (all_caps || title) {
        out += symbol(all_caps ? kAllCaps : kTitle);
        for (char c : word) out += to_lower(static_cast<unsigned char>(c));
      } else {
        if (first_upper) out += symbol(kTitle);
        out += to_lower(static_cast<unsigned char>(word[0]));
        for (size_t k = 1; k < word.size(); ++k) {
          if (is_upper(static_cast<unsigned char>(word[k]))) out += symbol(kCapNext);
          out += to_lower(static_cast<unsigned char>(word[k]));
        }
      }
    }
    i = j;
  }
  return out;
}

void Decoder::fail(const char* why) const {
  PGOLF_FAIL_INPUT("caseops: malformed transformed text at byte " << offset_ << ": " << why);
}

void Decoder::feed(std::string_view piece, std::string& out) {
  for (size_t i = 0; i < piece.size();) {
    const auto c = static_cast<unsigned char>(piece[i]);
    const uint32_t op = operator_at(piece, i);
    const size_t len = op != 0 ? 3 : std::min(char_length(c), piece.size() - i);
    const std::string_view ch = piece.substr(i, len);
    i += len;
    const bool alpha = len == 1 && is_alpha(c);
    if (pending_escape_) {
      if (pending_mode_ != Mode::kNone && !alpha)
        fail("an escaped character cannot satisfy a pending TITLE/ALLCAPS");
      out.append(ch);
      pending_escape_ = false;
      in_word_ = alpha;
      if (!alpha) active_allcaps_ = false;
    } else if (op == kEsc) {
      pending_escape_ = true;
    } else if (op == kTitle || op == kAllCaps) {
      if (pending_mode_ != Mode::kNone || in_word_ || pending_capnext_)
        fail(op == kTitle ? "TITLE placed inside a word or after another operator"
                          : "ALLCAPS placed inside a word or after another operator");
      pending_mode_ = op == kTitle ? Mode::kTitle : Mode::kAllCaps;
    } else if (op == kCapNext) {
      if (pending_capnext_) fail("CAPNEXT twice in a row");
      pending_capnext_ = true;
    } else if (alpha) {
      if (!in_word_) {
        const bool upper = pending_mode_ != Mode::kNone || pending_capnext_;
        out += upper ? to_upper(c) : static_cast<char>(c);
        active_allcaps_ = pending_mode_ == Mode::kAllCaps;
        in_word_ = true;
      } else {
        if (pending_mode_ != Mode::kNone) fail("TITLE/ALLCAPS inside a word");
        out += active_allcaps_ || pending_capnext_ ? to_upper(c) : static_cast<char>(c);
      }
      pending_mode_ = Mode::kNone;
      pending_capnext_ = false;
    } else {
      if (pending_mode_ != Mode::kNone || pending_capnext_)
        fail("a capitalisation operator not followed by an ASCII letter");
      out.append(ch);
      in_word_ = false;
      active_allcaps_ = false;
    }
    offset_ += static_cast<int64_t>(len);
  }
}

int64_t Decoder::original_bytes(std::string_view piece) {
  std::string out;
  feed(piece, out);
  return static_cast<int64_t>(out.size());
}

void Decoder::finish() const {
  if (pending_escape_) fail("ESC at the end of the text");
  if (pending_mode_ != Mode::kNone || pending_capnext_)
    fail("a capitalisation operator at the end of the text");
}

std::string decode(std::string_view text) {
  Decoder d;
  std::string out;
  out.reserve(text.size());
  d.feed(text, out);
  d.finish();
  return out;
}

std::vector<int64_t> original_byte_counts(const std::vector<std::string>& surfaces) {
  Decoder d;
  std::vector<int64_t> counts;
  counts.reserve(surfaces.size());
  for (const auto& s : surfaces) counts.push_back(d.original_bytes(s));
  d.finish();
  return counts;
}

}  // namespace pgolf::data::caseops
