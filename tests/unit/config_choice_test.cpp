// Choice knobs (issue 18 §3): every value of every knob through env, flags and JSON, the error of
// a bad value, and the help text, all from each knob's one table (config/choice.h, choices.h).
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <type_traits>

#include "pgolf/config/fields.h"
#include "pgolf/config/resolve.h"
#include "pgolf/core/error.h"

namespace pgolf::config {
namespace {

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

// apply_layers onto the defaults, expecting no error.
Resolved apply_and_get(const Layers& layers) {
  Resolved r;
  const auto errors = apply_layers(layers, r);
  EXPECT_TRUE(errors.empty()) << errors.front();
  return r;
}

std::string error_text(const Layers& layers) {
  try {
    resolve(layers);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    return e.what();
  }
  return "";
}

// Every choice knob takes every name of its table from env, flags and JSON, holds the matching
// enum, and dumps the same name; the dump reads back to the same configuration.
TEST(ConfigChoiceTest, EveryValueOfEveryChoiceKnobRoundTrips) {
  size_t knobs = 0, values = 0;
  const Config defaults;
  for_each_field(defaults, [&](const char* sec, const char* leaf, const auto& def, const char*) {
    using T = std::decay_t<decltype(def)>;
    if constexpr (is_choice_v<T>) {
      ++knobs;
      for (const auto& c : Choice<T>::values) {
        ++values;
        SCOPED_TRACE(std::string(leaf) + "=" + c.name);
        Layers env, flag, file;
        env.env = {{env_name(leaf), c.name}};
        flag.flags = {{leaf, c.name}};
        file.files = {write_temp("choice.json", nlohmann::json{{sec, {{leaf, c.name}}}}.dump())};
        for (const Layers* l : {&env, &flag, &file}) {
          Resolved r = apply_and_get(*l);
          EXPECT_EQ(to_json(r.cfg)[sec][leaf], c.name);
          T got{};
          for_each_field(r.cfg, [&](const char*, const char* name, const auto& f, const char*) {
            if constexpr (std::is_same_v<std::decay_t<decltype(f)>, T>)
              if (std::string(name) == leaf) got = f;
          });
          EXPECT_EQ(got, c.value);
          EXPECT_STREQ(choice_name(got), c.name);
          Layers back;
          back.files = {write_temp("choice_dump.json", dump(r).dump())};
          EXPECT_EQ(to_json(apply_and_get(back).cfg), to_json(r.cfg));
        }
      }
    }
  });
  EXPECT_GE(knobs, 18u);  // quant_scheme ... attn_out_gate_src (the issue's list)
  EXPECT_GE(values, 45u);
}

// A bad value is reported with the key as the layer spells it, the value and every allowed name,
// in table order, from env, flags and JSON alike.
TEST(ConfigChoiceTest, BadValueNamesKeyAndAllowedValues) {
  const std::string names = "mixed | int8 | int6 | int6_clip31 | gptq_lite | gptq";
  EXPECT_EQ(choice_names<QuantScheme>(), names);
  Layers l;
  l.env = {{"QUANT_SCHEME", "foo"}, {"SLIDING_MODE", "approx"}};
  l.flags = {{"compressor", "lrzip"}};
  l.files = {write_temp("bad_choice.json", R"({"model": {"attention": "flash"}, "dtype": 16})")};
  const std::string msg = error_text(l);
  for (const std::string& part :
       {"QUANT_SCHEME='foo': expected one of " + names,
        std::string("SLIDING_MODE='approx': expected one of reference | exact"),
        std::string("--compressor='lrzip': expected one of zstd | zlib | lzma | brotli | pergroup"),
        std::string("'model.attention' expected one of gqa | mla, found \"flash\""),
        std::string("'train.dtype' expected one of auto | fp32 | bf16 | reference, found 16")})
    EXPECT_NE(msg.find(part), std::string::npos) << "missing '" << part << "' in:\n" << msg;
  EXPECT_EQ(choice_error<Device>("DEVICE", "tpu"),
            "DEVICE: expected one of auto | cpu | cuda, found 'tpu'");
  try {
    parse_choice_or_throw<Compressor>("compressor", "rar");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find("compressor: expected one of zstd |"), std::string::npos);
  }
  QuantScheme q = QuantScheme::kInt6;
  EXPECT_FALSE(parse_value("MIXED", q));  // exact spelling, as the JSON/env files use
  EXPECT_FALSE(parse_value(" mixed", q));
  EXPECT_EQ(q, QuantScheme::kInt6);
}

// --help lists each knob's values and their help from the one table; the field table's own help
// of a choice knob never repeats the values (so no second list can drift).
TEST(ConfigChoiceTest, HelpListsValuesFromTheTable) {
  size_t checked = 0;
  const Config defaults;
  for_each_field(defaults, [&](const char*, const char* leaf, const auto& def, const char* help) {
    using T = std::decay_t<decltype(def)>;
    const std::string text = field_help(def, help);
    if constexpr (is_choice_v<T>) {
      ++checked;
      EXPECT_EQ(std::string(help).find(" | "), std::string::npos) << leaf << ": " << help;
      EXPECT_NE(text.find(choice_help<T>()), std::string::npos) << leaf;
      EXPECT_NE(text.find(std::string("(default ") + choice_name(def) + ")"), std::string::npos);
      for (const auto& c : Choice<T>::values) EXPECT_NE(text.find(c.name), std::string::npos);
    } else {
      EXPECT_EQ(text, help) << leaf;
    }
  });
  EXPECT_GE(checked, 18u);
  EXPECT_EQ(choice_help<MuonForm>().rfind("pr180: fp32 momentum", 0), 0u)
      << choice_help<MuonForm>();
}

}  // namespace
}  // namespace pgolf::config
