// Configuration layering and strict parsing (see resolve.h). Precedence is resolved here, not by
// CLI11, so that env beats files and flags beat env as in design.md §3.
#include "pgolf/config/resolve.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include "pgolf/config/fields.h"
#include "pgolf/core/error.h"

extern char** environ;

namespace pgolf::config {
namespace {

const char* kSections[] = {"data", "model", "optim", "train", "eval", "quant"};

bool is_section(const std::string& key) {
  for (const char* s : kSections)
    if (key == s) return true;
  return false;
}

// Nesting depth of `j`, counted no further than `limit` (so the walk itself stays shallow).
int depth(const nlohmann::json& j, int limit) {
  if (!j.is_structured() || limit == 0) return 0;
  int d = 0;
  for (const auto& v : j) d = std::max(d, depth(v, limit - 1));
  return d + 1;
}

// A short rendering of a value for error messages. Deeply nested values are shown by type only:
// dump() recurses once per level, and a hostile file can nest millions of levels.
std::string describe(const nlohmann::json& j) {
  if (depth(j, 8) >= 8) return std::string("a deeply nested ") + j.type_name();
  std::string s = j.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

// JSON value -> typed field, strictly (no silent truncation of 1.5 into an int).
bool from_json_value(const nlohmann::json& j, int64_t& out) {
  if (j.is_number_integer()) {
    out = j.get<int64_t>();
    return true;
  }
  if (j.is_number_float()) {
    const double d = j.get<double>();
    if (std::floor(d) == d && std::fabs(d) < 9.0e15) {
      out = static_cast<int64_t>(d);
      return true;
    }
  }
  return false;
}
bool from_json_value(const nlohmann::json& j, double& out) {
  if (!j.is_number() || !std::isfinite(j.get<double>())) return false;
  out = j.get<double>();
  return true;
}
bool from_json_value(const nlohmann::json& j, bool& out) {
  if (j.is_boolean()) {
    out = j.get<bool>();
    return true;
  }
  if (j.is_number_integer() && (j.get<int64_t>() == 0 || j.get<int64_t>() == 1)) {
    out = j.get<int64_t>() == 1;
    return true;
  }
  return false;
}
bool from_json_value(const nlohmann::json& j, std::string& out) {
  if (!j.is_string()) return false;
  out = j.get<std::string>();
  return true;
}
template <class E, std::enable_if_t<is_choice_v<E>, int> = 0>
bool from_json_value(const nlohmann::json& j, E& out) {
  return j.is_string() && parse_choice(j.get<std::string>(), out);
}

std::string type_name(const int64_t&) { return "an integer"; }
std::string type_name(const double&) { return "a number"; }
std::string type_name(const bool&) { return "a boolean (0/1/true/false)"; }
std::string type_name(const std::string&) { return "a string"; }
template <class E, std::enable_if_t<is_choice_v<E>, int> = 0>
std::string type_name(const E&) {
  return "one of " + choice_names<E>();
}

// A field as JSON: choice knobs by name, the rest as themselves.
template <class T>
nlohmann::json json_value(const T& field) {
  if constexpr (is_choice_v<T>) {
    return choice_name(field);
  } else {
    return field;
  }
}

// Leaf -> (key as spelled, value) of the keys one file has set: a leaf given twice, flat and
// sectioned, with different values is reported instead of the later one winning silently.
using SeenKeys = std::map<std::string, std::pair<std::string, nlohmann::json>>;

// Sets leaf `name` from JSON; records errors. Returns false if the name is unknown.
bool set_from_json(Resolved& r, const std::string& section, const std::string& name,
                   const nlohmann::json& value, const std::string& origin, SeenKeys& seen,
                   std::vector<std::string>& errors) {
  bool found = false;
  for_each_field(r.cfg, [&](const char* sec, const char* leaf, auto& field, const char*) {
    if (name != leaf || (!section.empty() && section != sec)) return;
    found = true;
    const std::string spelled = section.empty() ? name : section + "." + name;
    const auto [it, fresh] = seen.emplace(leaf, std::make_pair(spelled, value));
    if (!fresh && it->second.second != value) {
      errors.push_back(origin + ": key '" + leaf + "' is given twice with different values, as '" +
                       it->second.first + "' = " + describe(it->second.second) + " and as '" +
                       spelled + "' = " + describe(value) + "; keep one");
      return;
    }
    if (from_json_value(value, field)) {
      r.source[leaf] = origin;
    } else {
      errors.push_back(origin + ": key '" + std::string(sec) + "." + leaf + "' expected " +
                       type_name(field) + ", found " + describe(value));
    }
  });
  return found;
}

// A parser callback that lists every key appearing twice in the same object (nlohmann keeps the
// last silently). Keys of nested objects are named with their parents' keys.
nlohmann::json::parser_callback_t duplicate_key_finder(std::vector<std::string>& found) {
  struct Frame {
    std::string path;
    std::set<std::string> keys;
  };
  auto stack = std::make_shared<std::vector<Frame>>();
  auto last_key = std::make_shared<std::string>();
  return [stack, last_key, &found](int, nlohmann::json::parse_event_t event, nlohmann::json& v) {
    using E = nlohmann::json::parse_event_t;
    if (event == E::object_start) {
      const std::string parent = stack->empty() ? "" : stack->back().path;
      stack->push_back({stack->empty() ? "" : parent + *last_key + ".", {}});
    } else if (event == E::object_end && !stack->empty()) {
      stack->pop_back();
    } else if (event == E::key && !stack->empty()) {
      *last_key = v.get<std::string>();
      if (!stack->back().keys.insert(*last_key).second)
        found.push_back(stack->back().path + *last_key);
    }
    return true;
  };
}

void apply_file(Resolved& r, const std::string& path, std::vector<std::string>& errors) {
  std::ifstream in(path);
  if (!in.good()) {
    errors.push_back(path + ": cannot open config file");
    return;
  }
  nlohmann::json j;
  std::vector<std::string> duplicates;
  try {
    j = nlohmann::json::parse(in, duplicate_key_finder(duplicates), /*allow_exceptions=*/true,
                              /*ignore_comments=*/true);
  } catch (const std::exception& e) {
    errors.push_back(path + ": not valid JSON (" + e.what() + ")");
    return;
  }
  if (!j.is_object()) {
    errors.push_back(path + ": expected a JSON object at the top level, found " + describe(j));
    return;
  }
  for (const auto& key : duplicates)
    errors.push_back(path + ": key '" + key + "' appears twice in one object (JSON keeps only the "
                     "last); keep one");
  const std::string origin = "file " + path;
  SeenKeys seen;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    if (!key.empty() && key[0] == '_') continue;  // comments, _sources, _source
    if (key == "comment") continue;
    if (is_section(key) && it->is_object()) {
      for (auto jt = it->begin(); jt != it->end(); ++jt) {
        if (!jt.key().empty() && jt.key()[0] == '_') continue;
        if (!set_from_json(r, key, jt.key(), *jt, origin, seen, errors))
          errors.push_back(path + ": unknown key '" + key + "." + jt.key() + "'");
      }
    } else if (!set_from_json(r, "", key, *it, origin, seen, errors)) {
      errors.push_back(path + ": unknown key '" + key + "'");
    }
  }
}

}  // namespace

std::string env_name(const std::string& leaf) {
  std::string s = leaf;
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string flag_name(const std::string& leaf) {
  std::string s = leaf;
  for (char& c : s)
    if (c == '_') c = '-';
  return s;
}

bool parse_value(const std::string& text, int64_t& out) {
  // Python's int() accepts surrounding whitespace and '_' between digits (524_288).
  std::string t;
  size_t b = text.find_first_not_of(" \t"), e = text.find_last_not_of(" \t");
  if (b == std::string::npos) return false;
  for (size_t i = b; i <= e; ++i) {
    if (text[i] == '_') {
      if (i == b || i == e || !std::isdigit(static_cast<unsigned char>(text[i - 1])) ||
          !std::isdigit(static_cast<unsigned char>(text[i + 1])))
        return false;
      continue;
    }
    t.push_back(text[i]);
  }
  if (!t.empty() && t[0] == '+') t.erase(0, 1);
  if (t.empty()) return false;
  // Into a local: from_chars stores a parsed prefix ("12abc" -> 12), and a field left holding
  // it would add a second, spurious validation error to the parse error.
  int64_t v = 0;
  auto res = std::from_chars(t.data(), t.data() + t.size(), v);
  if (res.ec != std::errc() || res.ptr != t.data() + t.size()) return false;
  out = v;
  return true;
}

bool parse_value(const std::string& text, double& out) {
  size_t b = text.find_first_not_of(" \t"), e = text.find_last_not_of(" \t");
  if (b == std::string::npos) return false;
  const std::string t = text.substr(b, e - b + 1);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(t.c_str(), &end);  // a local, as for integers
  if (end != t.c_str() + t.size() || errno != 0 || !std::isfinite(v)) return false;
  out = v;
  return true;
}

bool parse_value(const std::string& text, bool& out) {
  std::string t;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c)))
      t.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (t == "1" || t == "true" || t == "yes" || t == "on") return out = true, true;
  if (t == "0" || t == "false" || t == "no" || t == "off") return out = false, true;
  return false;
}

bool parse_value(const std::string& text, std::string& out) {
  out = text;
  return true;
}

std::map<std::string, std::string> process_env() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    const size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

std::vector<std::string> apply_layers(const Layers& layers, Resolved& r) {
  std::vector<std::string> errors;
  for_each_field(r.cfg, [&](const char*, const char* leaf, auto&, const char*) {
    r.source[leaf] = "default";
  });
  for (const auto& path : layers.files) apply_file(r, path, errors);
  for_each_field(r.cfg, [&](const char*, const char* leaf, auto& field, const char*) {
    const std::string env = env_name(leaf);
    auto it = layers.env.find(env);
    if (it == layers.env.end()) return;
    if (parse_value(it->second, field)) {
      r.source[leaf] = "env " + env;
    } else {
      errors.push_back("environment " + env + "='" + it->second + "': expected " +
                       type_name(field));
    }
  });
  for (const auto& flag : layers.flags) {
    // Plain references: clang < 16 cannot capture structured bindings in the lambda below.
    const std::string& name = flag.first;
    const std::string& value = flag.second;
    bool found = false;
    for_each_field(r.cfg, [&](const char*, const char* leaf, auto& field, const char*) {
      if (name != leaf) return;
      found = true;
      if (parse_value(value, field)) {
        r.source[leaf] = "flag --" + flag_name(leaf);
      } else {
        errors.push_back("flag --" + flag_name(leaf) + "='" + value + "': expected " +
                         type_name(field));
      }
    });
    if (!found) errors.push_back("unknown flag --" + flag_name(name));
  }
  return errors;
}

Resolved resolve(const Layers& layers, int world_size) {
  Resolved r;
  std::vector<std::string> errors = apply_layers(layers, r);
  if (world_size > 0) {
    for (auto& e : validate(r.cfg, world_size)) errors.push_back(std::move(e));
  }
  if (!errors.empty()) {
    std::string msg = std::to_string(errors.size()) + " configuration error(s):";
    for (const auto& e : errors) msg += "\n  - " + e;
    throw Error(ErrorKind::kInput, msg, "see `pgolf config --dump` for every key and its source");
  }
  return r;
}

nlohmann::json to_json(const Config& cfg) {
  nlohmann::json j = nlohmann::json::object();
  for_each_field(cfg, [&](const char* sec, const char* leaf, const auto& field, const char*) {
    j[sec][leaf] = json_value(field);
  });
  return j;
}

nlohmann::json dump(const Resolved& resolved) {
  nlohmann::json j = to_json(resolved.cfg);
  j["_sources"] = resolved.source;
  return j;
}

void throw_choice_error(const std::string& message) {
  throw Error(ErrorKind::kInput, message);
}

int grad_accum_steps(int world_size) {
  if (world_size <= 0 || 8 % world_size != 0) return 0;
  return 8 / world_size;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const size_t b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

}  // namespace pgolf::config
