// Comment stripping and exclusion for the counted code bytes (see code_text.h).
#include "pgolf/quant/code_text.h"

#include <sstream>

#include "pgolf/core/error.h"

namespace pgolf::quant {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool ident_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// The identifier that ends right before t[i] (a literal's encoding prefix, e.g. "u8R").
std::string prefix_before(const std::string& t, size_t i) {
  size_t k = i;
  while (k > 0 && ident_char(t[k - 1])) --k;
  return t.substr(k, i - k);
}

// Index one past the end of the quoted literal starting at t[i] (quote q), escapes honoured; an
// unterminated one ends at the newline (the compiler reports it, not us).
size_t quoted_end(const std::string& t, size_t i, char q) {
  size_t j = i + 1;
  while (j < t.size() && t[j] != q && t[j] != '\n') j += t[j] == '\\' ? 2 : 1;
  return j < t.size() && t[j] == q ? j + 1 : std::min(j, t.size());
}

size_t raw_end(const std::string& t, size_t i, const std::string& where) {
  const size_t open = t.find('(', i + 1);
  PGOLF_CHECK_INPUT(open != std::string::npos, where << ": raw string literal without '('");
  const std::string close = ")" + t.substr(i + 1, open - i - 1) + "\"";
  const size_t end = t.find(close, open + 1);
  PGOLF_CHECK_INPUT(end != std::string::npos, where << ": unterminated raw string literal");
  return end + close.size();
}

std::string strip_c(const std::string& t, const std::string& where) {
  std::string out;
  size_t kept = 0;  // out[0, kept) holds literal text that trailing-blank trimming must not touch
  bool in_number = false;  // inside a pp-number: a ' is a digit separator (1'000), not a literal
  size_t i = 0;
  while (i < t.size()) {
    const char c = t[i];
    const char next = i + 1 < t.size() ? t[i + 1] : '\0';
    if (c == '/' && next == '/') {
      while (i < t.size() && t[i] != '\n') ++i;
      continue;
    }
    if (c == '/' && next == '*') {
      const size_t end = t.find("*/", i + 2);
      PGOLF_CHECK_INPUT(end != std::string::npos, where << ": unterminated /* comment");
      size_t lines = 0;
      for (size_t k = i + 2; k < end; ++k) lines += t[k] == '\n';
      if (lines == 0) out += ' ';
      for (size_t k = 0; k < lines; ++k) {
        while (out.size() > kept && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
        out += '\n';
      }
      i = end + 2;
      in_number = false;
      continue;
    }
    size_t end = 0;
    if (c == '"') {
      const std::string p = prefix_before(t, i);
      const bool raw = p == "R" || p == "u8R" || p == "uR" || p == "UR" || p == "LR";
      end = raw ? raw_end(t, i, where) : quoted_end(t, i, '"');
    } else if (c == '\'' && !in_number) {
      end = quoted_end(t, i, '\'');
    }
    if (end > 0) {
      out.append(t, i, end - i);
      kept = out.size();
      i = end;
      in_number = false;
      continue;
    }
    if (c == '\n')
      while (out.size() > kept && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
    if (!in_number && c >= '0' && c <= '9' && (i == 0 || !ident_char(t[i - 1]))) in_number = true;
    else if (in_number && !ident_char(c) && c != '.' && c != '\'') in_number = false;
    out += c;
    ++i;
  }
  while (out.size() > kept && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
  return out;
}

std::string strip_hash(const std::string& t) {
  std::string out;
  size_t start = 0;
  while (start < t.size()) {
    size_t nl = t.find('\n', start);
    const bool last = nl == std::string::npos;
    if (last) nl = t.size();
    const std::string line = t.substr(start, nl - start);
    const size_t first = line.find_first_not_of(" \t");
    // "#[" opens a CMake bracket comment spanning lines: kept whole rather than cut in half.
    const bool comment = first != std::string::npos && line[first] == '#' &&
                         line.compare(first, 2, "#[") != 0;
    if (!comment) out += line;
    if (!last) out += '\n';
    start = nl + 1;
  }
  return out;
}

}  // namespace

CommentSyntax comment_syntax(const std::string& name) {
  const std::string base = name.substr(name.rfind('/') == std::string::npos ? 0 : name.rfind('/') + 1);
  std::string n = ends_with(base, ".in") ? base.substr(0, base.size() - 3) : base;
  for (const char* ext : {".h", ".hpp", ".c", ".cc", ".cpp", ".cu", ".cuh"})
    if (ends_with(n, ext)) return CommentSyntax::kC;
  if (base == "CMakeLists.txt" || ends_with(base, ".cmake") || ends_with(base, ".txt"))
    return CommentSyntax::kHash;
  return CommentSyntax::kNone;
}

std::string strip_comments(const std::string& text, CommentSyntax syntax, const std::string& where) {
  switch (syntax) {
    case CommentSyntax::kC: return strip_c(text, where);
    case CommentSyntax::kHash: return strip_hash(text);
    default: return text;
  }
}

std::vector<std::string> parse_excludes(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r'))
      line.pop_back();
    if (!line.empty() && line[0] != '#') out.push_back(line);
  }
  return out;
}

bool excluded(const std::string& rel, const std::vector<std::string>& prefixes) {
  for (const auto& p : prefixes)
    if (rel.compare(0, p.size(), p) == 0) return true;
  return false;
}

}  // namespace pgolf::quant
