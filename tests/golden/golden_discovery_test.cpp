// Lists every golden case found and checks the two directions of the kind <-> checker map: a case
// whose kind has no checker fails (it must not pass silently), and so does a checker with no case
// (a missing kind fails, never skips). PGOLF_CHECKED_KINDS comes from the golden_<kind>_test.cpp
// files present.
//
// GoldenCopiesTest (its own ctest entry, label `copies`): the in-tree copies under
// tests/golden/cases/<set>/ are byte-identical to their source, <shared>/<source folder>, and hold
// every source case whose kind has a checker. <shared> is $PGOLF_SHARED_DIR, else the shared
// folder beside the checkout (../shared); skipped where it is absent (a plain clone).
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "golden_case.h"

namespace pgolf::golden {
namespace {

namespace fs = std::filesystem;

std::set<std::string> checked_kinds() {
  std::set<std::string> out;
  std::stringstream ss(PGOLF_CHECKED_KINDS);
  std::string k;
  while (std::getline(ss, k, ','))
    if (!k.empty()) out.insert(k);
  return out;
}

TEST(GoldenDiscoveryTest, FindsCases) {
  auto cases = discover();
  ASSERT_FALSE(cases.empty()) << "no golden cases found; set PGOLF_GOLDEN_ROOT";
  for (const auto& c : cases) std::cout << "golden case " << c.name() << " kind " << c.kind() << "\n";
}

TEST(GoldenDiscoveryTest, EveryKindHasAChecker) {
  const auto known = checked_kinds();
  std::vector<std::string> unchecked;
  for (const auto& c : discover())
    if (!known.count(c.kind())) unchecked.push_back(c.name() + " (" + c.kind() + ")");
  if (!unchecked.empty()) {
    std::string list;
    for (auto& u : unchecked) list += " " + u;
    ADD_FAILURE() << "UNCHECKED golden cases (no checker for their kind):" << list;
  }
}

TEST(GoldenDiscoveryTest, EveryCheckerHasCases) {
  std::set<std::string> found;
  for (const auto& c : discover()) found.insert(c.kind());
  for (const auto& kind : checked_kinds())
    EXPECT_TRUE(found.count(kind)) << "golden_" << kind << "_test has no case of kind '" << kind
                                   << "' (tests/golden/cases, PGOLF_GOLDEN_DIRS)";
}

// ---- the in-tree copies and their source ----

// In-tree set folder (tests/golden/cases/<set>) -> its source folder under PGOLF_SHARED_DIR.
const std::vector<std::pair<std::string, std::string>> kCopies = {
    {"seed", "golden"}, {"frontier", "golden-frontier"}};

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Files under `dir`, relative to it, sorted.
std::vector<std::string> files_under(const fs::path& dir) {
  std::vector<std::string> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

// Every in-tree file exists in the source with the same bytes; every source case folder whose
// kind has a checker, or that is in the tree, is there with all its files.
void check_copy(const fs::path& tree, const fs::path& source) {
  for (const auto& rel : files_under(tree)) {
    const fs::path src = source / rel;
    if (!fs::exists(src)) {
      ADD_FAILURE() << tree / rel << ": not in the source " << source;
    } else if (read_bytes(tree / rel) != read_bytes(src)) {
      ADD_FAILURE() << tree / rel << " differs from " << src << " (copy it again)";
    }
  }
  const auto known = checked_kinds();
  for (const auto& c : discover_in(source.string())) {
    const fs::path rel = fs::relative(c.dir(), source);
    if (!known.count(c.kind()) && !fs::exists(tree / rel)) continue;  // not copied until checked
    for (const auto& f : files_under(c.dir()))
      EXPECT_TRUE(fs::exists(tree / rel / f))
          << (tree / rel / f) << " missing: copy " << (source / rel) << " (kind " << c.kind() << ")";
  }
}

TEST(GoldenCopiesTest, InTreeCasesAreByteIdenticalToTheirSource) {
  const char* env = std::getenv("PGOLF_SHARED_DIR");
  const fs::path shared =
      env && *env ? fs::path(env) : fs::path(PGOLF_CHECKOUT_DIR).parent_path() / "shared";
  const fs::path cases = PGOLF_GOLDEN_CASES_DIR;
  int compared = 0;
  for (const auto& [set, source] : kCopies) {
    if (!fs::is_directory(shared / source)) continue;
    SCOPED_TRACE(set + " <- " + (shared / source).string());
    check_copy(cases / set, shared / source);
    ++compared;
  }
  if (compared == 0)
    GTEST_SKIP() << "NOT RUN: no source folder under " << shared
                 << " (a clone without ../shared); the in-tree copies were not compared";
}

}  // namespace
}  // namespace pgolf::golden
