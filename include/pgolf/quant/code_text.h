// The code-bytes counting rule's text side (budget.h, README "Code bytes"): which files a
// submission leaves out (cmake/submission_excludes.txt) and the comment stripping applied to the
// files it counts. scripts/code_strip.py is the same rule in Python, for scripts/code_bytes.sh.
#pragma once

#include <string>
#include <vector>

namespace pgolf::quant {

enum class CommentSyntax {
  kNone,  // copied as is (configs)
  kC,     // C/C++/CUDA: // and /* */ comments, outside string, character and raw string literals
  kHash,  // CMake and the excludes list: whole lines whose first non-blank character is '#'
};
// By name: .h .hpp .c .cc .cpp .cu .cuh (also "<x>.h.in") -> kC; CMakeLists.txt, .cmake, .txt ->
// kHash; anything else kNone.
CommentSyntax comment_syntax(const std::string& name);

// Comments removed, line numbers kept (a comment's newlines stay; a one-line block comment becomes
// a space) and, for kC, trailing blanks dropped outside literals. Throws an input error naming
// `where` on an unterminated block comment or raw string.
std::string strip_comments(const std::string& text, CommentSyntax syntax,
                           const std::string& where = "");

// The prefixes listed in an excludes file (one per line; blank lines and '#' lines skipped).
std::vector<std::string> parse_excludes(const std::string& text);
// True when `rel` (a '/'-separated repo-relative path) starts with one of `prefixes`.
bool excluded(const std::string& rel, const std::vector<std::string>& prefixes);

}  // namespace pgolf::quant
