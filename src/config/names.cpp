// The shared tensor-name match (see names.h).
#include "pgolf/config/names.h"

#include <algorithm>

namespace pgolf::config {

bool matches_any(const std::string& name, const std::vector<std::string>& patterns) {
  // An empty pattern would match every name; split_list never yields one, callers may.
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) {
    return !p.empty() && name.find(p) != std::string::npos;
  });
}

}  // namespace pgolf::config
