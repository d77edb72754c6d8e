// Name suggestions and the look-alike environment variable rule (see suggest.h).
#include "pgolf/config/suggest.h"

#include <algorithm>
#include <set>

#include "pgolf/config/fields.h"
#include "pgolf/config/resolve.h"

namespace pgolf::config {
namespace {

// Other programs' variables that may sit near a knob's name: never warned about.
const char* const kForeignPrefixes[] = {
    "OMP_", "KMP_", "GOMP_", "MKL_", "OPENBLAS_", "CUDA_", "CUDNN_", "CUBLAS_", "NCCL_", "NVIDIA_",
    "TORCH_", "TORCHELASTIC_", "PYTORCH_", "GLOO_", "PGOLF_", "LC_", "XDG_", "SSH_", "LD_",
    "PYTHON", "CONDA_", "VIRTUAL_ENV", "PIP_", "GIT_", "ASAN_", "UBSAN_", "LSAN_", "TSAN_",
    "GTEST_", "CTEST_", "CMAKE_", "CCACHE_", "DBUS_", "DEBIAN_", "HF_", "WANDB_", "SLURM_", "PBS_",
    "KUBERNETES_", "DOCKER_", "NPM_", "SPM_", "ABSL_"};
// torchrun / torch.distributed and common shell variables of similar shape.
const char* const kForeignNames[] = {
    "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "GROUP_WORLD_SIZE",
    "ROLE_RANK", "ROLE_NAME", "ROLE_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "NODE_RANK",
    "PATH", "HOME", "USER", "SHELL", "TERM", "LANG", "PWD", "OLDPWD", "TMPDIR", "HOSTNAME",
    "DISPLAY", "EDITOR", "PAGER", "LOGNAME", "MAIL", "SHLVL", "COLUMNS", "LINES", "TZ"};

bool foreign(const std::string& name) {
  for (const char* p : kForeignPrefixes)
    if (name.rfind(p, 0) == 0) return true;
  for (const char* n : kForeignNames)
    if (name == n) return true;
  return false;
}

bool looks_like_ours(const std::string& name) {
  if (name.size() < 3) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::vector<std::string> knob_names() {
  std::vector<std::string> names;
  Config cfg;
  for_each_field(cfg, [&](const char*, const char* leaf, auto&, const char*) {
    names.push_back(env_name(leaf));
  });
  return names;
}

// "TTT_" for every first word that two or more knobs share.
std::set<std::string> family_prefixes(const std::vector<std::string>& knobs) {
  std::map<std::string, int> count;
  for (const auto& k : knobs) {
    const size_t us = k.find('_');
    if (us != std::string::npos) ++count[k.substr(0, us + 1)];
  }
  std::set<std::string> out;
  for (const auto& [prefix, n] : count)
    if (n >= 2) out.insert(prefix);
  return out;
}

}  // namespace

size_t edit_distance(const std::string& a, const std::string& b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (size_t i = 1; i <= n; ++i)
    for (size_t j = 1; j <= m; ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[n][m];
}

size_t typo_distance(const std::string& word) { return word.size() < 8 ? 1 : 2; }

std::string closest_name(const std::string& word, const std::vector<std::string>& candidates,
                         size_t max_distance) {
  std::string best;
  size_t best_d = max_distance + 1;
  for (const auto& c : candidates) {
    const size_t d = edit_distance(word, c);
    if (d < best_d) {
      best = c;
      best_d = d;
    }
  }
  return best;
}

std::vector<std::string> env_name_warnings(const std::map<std::string, std::string>& env) {
  static const std::vector<std::string> knobs = knob_names();
  static const std::set<std::string> families = family_prefixes(knobs);
  const std::set<std::string> known(knobs.begin(), knobs.end());
  std::vector<std::string> out;
  for (const auto& kv : env) {
    const std::string& name = kv.first;
    if (!looks_like_ours(name) || known.count(name) || foreign(name)) continue;
    const std::string near = closest_name(name, knobs, typo_distance(name));
    const size_t us = name.find('_');
    const bool family = us != std::string::npos && families.count(name.substr(0, us + 1)) > 0;
    if (near.empty() && !family) continue;
    // In a family, the nearest member is the likely intent even beyond typo distance.
    std::string guess = near;
    if (guess.empty()) {
      std::vector<std::string> members;
      for (const auto& k : knobs)
        if (k.rfind(name.substr(0, us + 1), 0) == 0) members.push_back(k);
      guess = closest_name(name, members, name.size());
    }
    out.push_back("environment variable " + name + " is not a pgolf knob and is ignored" +
                  (guess.empty() ? "" : "; did you mean " + guess + "?"));
  }
  return out;
}

}  // namespace pgolf::config
