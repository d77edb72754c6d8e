// Choice knobs: a configuration value from a fixed set is an enum with one table of
// {value, name, help} (a `Choice<E>` specialisation, choices.h). Parsing (env, flags, JSON), the
// error listing the allowed names, the help text and the dump all read that table, so the set of
// allowed values is written once and nothing after the configuration boundary compares strings.
#pragma once

#include <cstddef>
#include <string>
#include <type_traits>

namespace pgolf::config {

template <class E>
struct ChoiceValue {
  E value;
  const char* name;  // the spelling in env, flags, JSON and the dump
  const char* help;  // one phrase for --help ("" when the name says it all)
};

// Specialised per enum with `static constexpr ChoiceValue<E> values[] = {...};`.
template <class E>
struct Choice {};

template <class E, class = void>
struct is_choice : std::false_type {};
template <class E>
struct is_choice<E, std::void_t<decltype(Choice<E>::values)>> : std::true_type {};
template <class E>
inline constexpr bool is_choice_v = is_choice<E>::value;

// The name of `v` ("?" for a value outside the table, which no parse can produce).
template <class E>
constexpr const char* choice_name(E v) {
  for (const auto& c : Choice<E>::values)
    if (c.value == v) return c.name;
  return "?";
}

// Exact, case-sensitive match of a name in the table; false (out untouched) otherwise.
template <class E>
bool parse_choice(const std::string& text, E& out) {
  for (const auto& c : Choice<E>::values)
    if (text == c.name) {
      out = c.value;
      return true;
    }
  return false;
}

// "a | b | c": the allowed names in table order.
template <class E>
std::string choice_names() {
  std::string s;
  for (const auto& c : Choice<E>::values) s += (s.empty() ? "" : " | ") + std::string(c.name);
  return s;
}

// "a: help of a | b | c: help of c": the names with their help, for --help.
template <class E>
std::string choice_help() {
  std::string s;
  for (const auto& c : Choice<E>::values) {
    s += (s.empty() ? "" : " | ") + std::string(c.name);
    if (*c.help) s += std::string(": ") + c.help;
  }
  return s;
}

// "KEY: expected one of a | b | c, found 'x'": the one wording of a bad choice value.
template <class E>
std::string choice_error(const std::string& key, const std::string& found) {
  return key + ": expected one of " + choice_names<E>() + ", found '" + found + "'";
}

// Parses `text` or throws an input error (choice_error) naming `key`; for values that arrive
// outside the layered configuration (golden case files, test fixtures, artifact metadata).
[[noreturn]] void throw_choice_error(const std::string& message);
template <class E>
E parse_choice_or_throw(const std::string& key, const std::string& text) {
  E out{};
  if (!parse_choice(text, out)) throw_choice_error(choice_error<E>(key, text));
  return out;
}

}  // namespace pgolf::config
