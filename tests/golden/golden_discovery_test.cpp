// Lists every golden case found and fails on any whose kind has no checker: an unchecked case
// must not pass silently. PGOLF_CHECKED_KINDS comes from the golden_<kind>_test.cpp files present.
#include <set>
#include <sstream>

#include "golden_case.h"

namespace pgolf::golden {
namespace {

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

}  // namespace
}  // namespace pgolf::golden
