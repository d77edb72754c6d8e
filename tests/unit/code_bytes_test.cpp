// The code-bytes rule (README "Code bytes"): comment stripping, the excludes list, and the C++ rule
// against scripts/code_bytes.sh (Python stripping) on a tricky tree and on this checkout.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "pgolf/core/error.h"
#include "pgolf/quant/budget.h"
#include "pgolf/quant/code_text.h"

namespace fs = std::filesystem;
using namespace pgolf;
using namespace pgolf::quant;

namespace {

std::string strip_c(const std::string& s) { return strip_comments(s, CommentSyntax::kC, "t.cpp"); }

size_t lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

std::string run_capture(const std::string& cmd) {
  std::string out;
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return out;
  std::array<char, 256> buf{};
  while (fgets(buf.data(), buf.size(), f)) out += buf.data();
  pclose(f);
  return out;
}

// Comments in every position the stripper must tell apart from code.
const char* kTricky =
    "// head comment\n"
    "#include \"a//b.h\"  // trailing\n"
    "int x = 1'000'000;  /* one-line */ int y = 0x1F'FF;\n"
    "const char* s = \"not // a comment /* either */\";\n"
    "char q = '\\'';  char d = '\"'; // after chars\n"
    "auto r = R\"xy(raw // kept /* kept */ )\" still)xy\";\n"
    "auto u = u8\"\\\"//\";   \n"
    "int a/* glued */b;\n"
    "/* multi\n   line\n   comment */ int z;\n"
    "const char* t = \"tab\\t\"; char c = u8'a'; // u8 char\n";

}  // namespace

TEST(CodeTextTest, CommentsGoLinesAndLiteralsStay) {
  const std::string out = strip_c(kTricky);
  EXPECT_EQ(lines(out), lines(kTricky));
  EXPECT_EQ(out,
            "\n"
            "#include \"a//b.h\"\n"
            "int x = 1'000'000;    int y = 0x1F'FF;\n"
            "const char* s = \"not // a comment /* either */\";\n"
            "char q = '\\'';  char d = '\"';\n"
            "auto r = R\"xy(raw // kept /* kept */ )\" still)xy\";\n"
            "auto u = u8\"\\\"//\";\n"
            "int a b;\n"
            "\n\n int z;\n"
            "const char* t = \"tab\\t\"; char c = u8'a';\n");
}

TEST(CodeTextTest, BlanksInsideRawStringsAreKept) {
  const std::string src = "auto r = R\"(line  \nnext\t)\";  \n";
  EXPECT_EQ(strip_c(src), "auto r = R\"(line  \nnext\t)\";\n");
}

TEST(CodeTextTest, UnterminatedCommentOrRawStringIsAnInputError) {
  for (const char* bad : {"int x; /* open", "auto r = R\"d(open"}) {
    try {
      strip_c(bad);
      FAIL() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInput);
      EXPECT_NE(std::string(e.what()).find("t.cpp"), std::string::npos) << e.what();
    }
  }
}

TEST(CodeTextTest, HashSyntaxDropsWholeCommentLinesOnly) {
  const std::string src = "# top\n  # indented\nset(X \"#not\") # kept\n#[[ bracket\n]]\nend()";
  EXPECT_EQ(strip_comments(src, CommentSyntax::kHash), "\n\nset(X \"#not\") # kept\n#[[ bracket\n]]\nend()");
}

TEST(CodeTextTest, SyntaxByName) {
  EXPECT_EQ(comment_syntax("src/a/b.cpp"), CommentSyntax::kC);
  EXPECT_EQ(comment_syntax("include/pgolf/x.h"), CommentSyntax::kC);
  EXPECT_EQ(comment_syntax("src/model/cuda/k.cu"), CommentSyntax::kC);
  EXPECT_EQ(comment_syntax("cmake/version.h.in"), CommentSyntax::kC);
  EXPECT_EQ(comment_syntax("CMakeLists.txt"), CommentSyntax::kHash);
  EXPECT_EQ(comment_syntax("cmake/deps.cmake"), CommentSyntax::kHash);
  EXPECT_EQ(comment_syntax("cmake/submission_excludes.txt"), CommentSyntax::kHash);
  EXPECT_EQ(comment_syntax("config/1_smoke.json"), CommentSyntax::kNone);
}

TEST(CodeTextTest, ExcludesArePrefixes) {
  const auto ex = parse_excludes("# comment\n\nsrc/report/\nsrc/cli/cmd_bench.cpp  \r\n");
  ASSERT_EQ(ex.size(), 2u);
  EXPECT_TRUE(excluded("src/report/svg.cpp", ex));
  EXPECT_TRUE(excluded("src/cli/cmd_bench.cpp", ex));
  EXPECT_FALSE(excluded("src/cli/cmd_train.cpp", ex));
  EXPECT_FALSE(excluded("include/pgolf/report.h", ex));
}

TEST(CodeTextTest, CodeEntriesLeaveOutExcludedAndCountStrippedBytes) {
  const fs::path root = fs::path(::testing::TempDir()) / "code_entries_repo";
  fs::remove_all(root);
  write(root / "CMakeLists.txt", "# comment\nproject(x)\n");
  write(root / "cmake/submission_excludes.txt", "# left out\nsrc/report/\n");
  write(root / "src/a.cpp", "int a;  // comment\n");
  write(root / "src/report/r.cpp", "int r;\n");
  const auto entries = code_entries(root.string(), {});
  std::vector<std::string> names;
  for (const auto& e : entries) names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"CMakeLists.txt", "cmake/submission_excludes.txt", "src/a.cpp"}));
  EXPECT_EQ(entry_bytes(entries[2]), "int a;\n");
  EXPECT_EQ(measure_code_bytes(root.string(), {}).source_bytes,
            static_cast<int64_t>(std::string("\nproject(x)\n\nsrc/report/\nint a;\n").size()));
}

// The same rule twice: the C++ one (pgolf export/train) and scripts/code_bytes.sh (Python).
TEST(CodeBytesScriptTest, ScriptMatchesCppOnTrickyTreeAndThisCheckout) {
  const char* src = std::getenv("PGOLF_SOURCE_DIR");
  if (!src || !fs::exists(std::string(src) + "/scripts/code_bytes.sh") ||
      std::system("zstd --version > /dev/null 2>&1 && python3 --version > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "scripts/code_bytes.sh, zstd or python3 unavailable";
  const fs::path root = fs::path(::testing::TempDir()) / "code_script_repo";
  fs::remove_all(root);
  write(root / "CMakeLists.txt", "# c\nproject(x)\n");
  write(root / "cmake/submission_excludes.txt", "src/skip/\n");
  write(root / "src/tricky.cpp", kTricky);
  write(root / "include/x/y.h", "#pragma once  /* c */\n// c\nint y;\n");
  write(root / "src/skip/gone.cpp", "int gone;\n");
  write(root / "cfg.json", "{\"model\": {}}\n");
  const std::string tar = ::testing::TempDir() + "/code_script.tar";
  const std::string script = "bash " + std::string(src) + "/scripts/code_bytes.sh ";
  const auto tricky = measure_code_bytes(root.string(), {(root / "cfg.json").string()});
  const std::string out = run_capture("PGOLF_CODE_TAR=" + tar + " " + script + root.string() + " " +
                                      (root / "cfg.json").string());
  EXPECT_EQ(std::stoll(out), tricky.compressed_bytes) << out;
  EXPECT_EQ(static_cast<int64_t>(fs::file_size(tar)), tricky.tar_bytes);
  const auto ours = ustar_archive(code_entries(root.string(), {(root / "cfg.json").string()}));
  std::ifstream f(tar, std::ios::binary);
  const std::string theirs((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(theirs, std::string(ours.begin(), ours.end()));
  const auto repo = measure_code_bytes(src, {});
  EXPECT_EQ(std::stoll(run_capture(script + src)), repo.compressed_bytes);
  std::cout << "this checkout: " << repo.files << " files, " << repo.source_bytes
            << " stripped bytes, code bytes " << repo.compressed_bytes << "\n";
}
