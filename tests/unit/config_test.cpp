// Unit tests for configuration: defaults, precedence, uniqueness of names, strict parsing,
// validation reported all at once, and the dump round trip.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <set>

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

// validate()'s messages, one per line.
std::string validation_text(const Config& c, int world) {
  std::string all;
  for (const auto& e : validate(c, world)) all += e + "\n";
  return all;
}

std::string error_text(const Layers& layers, int world = 0) {
  try {
    resolve(layers, world);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    return e.what();
  }
  return "";
}

TEST(ConfigTest, DefaultsArePrimaryRecord) {
  Config c;
  EXPECT_EQ(c.model.num_layers, 10);
  EXPECT_EQ(c.model.bigram_vocab_size, 10240);
  EXPECT_DOUBLE_EQ(c.model.mlp_mult, 3.0);
  EXPECT_EQ(c.train.train_batch_tokens, 786432);
  EXPECT_EQ(c.train.train_seq_len, 2048);
  EXPECT_EQ(c.train.seed, 42);
  EXPECT_DOUBLE_EQ(c.optim.tied_embed_lr, 0.03);
  EXPECT_DOUBLE_EQ(c.optim.weight_decay, 0.04);
  EXPECT_DOUBLE_EQ(c.train.swa_start_frac, 0.4);
  EXPECT_EQ(c.eval.eval_stride, 64);
  EXPECT_TRUE(validate(c, 8).empty());
  EXPECT_TRUE(validate(c, 1).empty());
}

TEST(ConfigTest, NamesAreUniqueAndEnvIsUpperLeaf) {
  Config c;
  std::set<std::string> leaves, envs, flags;
  size_t n = 0;
  for_each_field(c, [&](const char*, const char* leaf, auto&, const char*) {
    ++n;
    leaves.insert(leaf);
    envs.insert(env_name(leaf));
    flags.insert(flag_name(leaf));
  });
  EXPECT_EQ(leaves.size(), n);
  EXPECT_EQ(envs.size(), n);
  EXPECT_EQ(flags.size(), n);
  EXPECT_EQ(env_name("num_kv_heads"), "NUM_KV_HEADS");
  EXPECT_EQ(flag_name("num_kv_heads"), "num-kv-heads");
  for (const char* ref : {"DATA_PATH", "TOKENIZER_PATH", "RUN_ID", "SEED", "VAL_BATCH_SIZE",
                          "VAL_LOSS_EVERY", "TRAIN_LOG_EVERY", "ITERATIONS", "WARMDOWN_ITERS",
                          "WARMUP_STEPS", "TRAIN_BATCH_TOKENS", "TRAIN_SEQ_LEN",
                          "MAX_WALLCLOCK_SECONDS", "QK_GAIN_INIT", "VOCAB_SIZE", "NUM_LAYERS",
                          "NUM_KV_HEADS", "MODEL_DIM", "NUM_HEADS", "MLP_MULT", "TIE_EMBEDDINGS",
                          "ROPE_BASE", "LOGIT_SOFTCAP", "EMBED_LR", "HEAD_LR", "TIED_EMBED_LR",
                          "TIED_EMBED_INIT_STD", "MATRIX_LR", "SCALAR_LR", "MUON_MOMENTUM",
                          "MUON_BACKEND_STEPS", "MUON_MOMENTUM_WARMUP_START",
                          "MUON_MOMENTUM_WARMUP_STEPS", "BETA1", "BETA2", "ADAM_EPS",
                          "GRAD_CLIP_NORM", "WEIGHT_DECAY", "EVAL_STRIDE", "EVAL_BATCH_SEQS",
                          "BIGRAM_VOCAB_SIZE", "BIGRAM_DIM", "SWA_ENABLED", "SWA_START_FRAC",
                          "SWA_EVERY", "CONTROL_TENSOR_NAME_PATTERNS", "FP16_KEEP_NAME_PATTERNS",
                          "TTT_LORA_RANK", "TTT_LORA_LR", "TTT_CHUNK_SIZE", "TTT_EVAL_SEQ_LEN",
                          "TTT_BATCH_SIZE"})
    EXPECT_TRUE(envs.count(ref)) << "reference env var not honoured: " << ref;
}

TEST(ConfigTest, PrecedenceDefaultsFilesEnvFlags) {
  Layers l;
  l.files = {write_temp("a.json", R"({"model": {"num_layers": 11, "model_dim": 256}, "seed": 7})"),
             write_temp("b.json", R"({"num_layers": 12, "_comment": "ignored"})")};
  l.env = {{"NUM_LAYERS", "13"}, {"MODEL_DIM", "384"}, {"UNRELATED", "x"}};
  l.flags = {{"model_dim", "128"}};
  Resolved r = resolve(l);
  EXPECT_EQ(r.cfg.model.num_layers, 13);   // env beats files
  EXPECT_EQ(r.cfg.model.model_dim, 128);   // flag beats env
  EXPECT_EQ(r.cfg.train.seed, 7);          // file beats default
  EXPECT_EQ(r.cfg.model.num_heads, 8);     // default
  EXPECT_EQ(r.source["num_layers"], "env NUM_LAYERS");
  EXPECT_EQ(r.source["model_dim"], "flag --model-dim");
  EXPECT_EQ(r.source["seed"], "file " + l.files[0]);
  EXPECT_EQ(r.source["num_heads"], "default");
}

TEST(ConfigTest, LaterFileBeatsEarlierFile) {
  Layers l;
  l.files = {write_temp("c.json", R"({"seed": 1})"), write_temp("d.json", R"({"seed": 2})")};
  EXPECT_EQ(resolve(l).cfg.train.seed, 2);
}

TEST(ConfigTest, StrictParsing) {
  int64_t i = 0;
  double d = 0;
  bool b = false;
  EXPECT_TRUE(parse_value("524_288", i));
  EXPECT_EQ(i, 524288);
  EXPECT_FALSE(parse_value("nine", i));
  EXPECT_FALSE(parse_value("9.5", i));
  EXPECT_FALSE(parse_value("", i));
  EXPECT_FALSE(parse_value("12abc", i));
  EXPECT_FALSE(parse_value("_1", i));
  EXPECT_TRUE(parse_value("1e-8", d));
  EXPECT_DOUBLE_EQ(d, 1e-8);
  EXPECT_FALSE(parse_value("0.04x", d));
  EXPECT_FALSE(parse_value("nan", d));
  EXPECT_TRUE(parse_value("1", b));
  EXPECT_TRUE(b);
  EXPECT_TRUE(parse_value("False", b));
  EXPECT_FALSE(b);
  EXPECT_FALSE(parse_value("2", b));
}

TEST(ConfigTest, AllErrorsReportedAtOnce) {
  Layers l;
  l.files = {write_temp("bad.json", R"({"model": {"num_layerz": 3, "mlp_mult": "x"}, "bogus": 1})")};
  l.env = {{"NUM_LAYERS", "nine"}, {"SEED", "1.5"}};
  l.flags = {{"model_dim", "abc"}, {"no_such_knob", "1"}};
  const std::string msg = error_text(l);
  EXPECT_NE(msg.find("7 configuration error(s)"), std::string::npos) << msg;
  for (const char* part : {"model.num_layerz", "model.mlp_mult", "'bogus'", "NUM_LAYERS='nine'",
                           "SEED='1.5'", "--model-dim='abc'", "--no-such-knob"})
    EXPECT_NE(msg.find(part), std::string::npos) << "missing '" << part << "' in:\n" << msg;
}

TEST(ConfigTest, InconsistentSettingsListedTogether) {
  Config c;
  c.model.model_dim = 500;
  c.model.num_heads = 7;
  c.train.train_batch_tokens = 1000;
  c.model.attention = "flash";
  const std::string all = validation_text(c, 3);
  EXPECT_NE(all.find("not divisible by num_heads"), std::string::npos) << all;
  EXPECT_NE(all.find("num_kv_heads"), std::string::npos) << all;
  EXPECT_NE(all.find("WORLD_SIZE 3 must divide 8"), std::string::npos) << all;
  EXPECT_NE(all.find("attention"), std::string::npos) << all;
  Config d;
  d.train.train_batch_tokens = 786432 + 2048;
  d.train.train_seq_len = 2048;
  const auto errs2 = validate(d, 8);
  ASSERT_EQ(errs2.size(), 1u);
  EXPECT_NE(errs2[0].find("train_batch_tokens"), std::string::npos);
}

TEST(ConfigTest, DistTimeoutAndNsDtypeRanges) {
  Config c;
  c.train.dist_timeout_seconds = 0.5;
  c.optim.muon_ns_dtype = "fp16";
  const std::string all = validation_text(c, 1);
  EXPECT_NE(all.find("dist_timeout_seconds: expected 1..86400, found 0.5"), std::string::npos) << all;
  EXPECT_NE(all.find("muon_ns_dtype"), std::string::npos) << all;
  Config d;
  d.train.dist_timeout_seconds = 5;
  d.optim.muon_ns_dtype = "fp32";
  EXPECT_TRUE(validate(d, 1).empty());
}

TEST(ConfigTest, ResolveWithWorldSizeMergesParseAndValidationErrors) {
  Layers l;
  l.env = {{"NUM_LAYERS", "nine"}, {"NUM_HEADS", "7"}};
  const std::string msg = error_text(l, 1);
  EXPECT_NE(msg.find("NUM_LAYERS"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not divisible by num_heads 7"), std::string::npos) << msg;
}

TEST(ConfigTest, DumpRoundTrips) {
  Layers l;
  l.env = {{"NUM_LAYERS", "11"}, {"CONTROL_TENSOR_NAME_PATTERNS", "a,b"}, {"MLP_MULT", "2.5"}};
  Resolved r = resolve(l);
  auto j = dump(r);
  EXPECT_EQ(j["_sources"]["num_layers"], "env NUM_LAYERS");
  Layers back;
  back.files = {write_temp("dump.json", j.dump(2))};
  Resolved r2 = resolve(back);
  EXPECT_EQ(to_json(r2.cfg), to_json(r.cfg));
}

TEST(ConfigTest, WrongJsonTypesAreErrors) {
  Layers l;
  l.files = {write_temp("types.json", R"({"num_layers": 9.5, "tie_embeddings": "yes", "seed": 3.0})")};
  const std::string msg = error_text(l);
  EXPECT_NE(msg.find("num_layers"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tie_embeddings"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("seed"), std::string::npos) << "3.0 is a valid integer: " << msg;
}

TEST(ConfigTest, MissingOrMalformedFile) {
  Layers l;
  l.files = {"/nonexistent/x.json", write_temp("broken.json", "{\"seed\": ")};
  const std::string msg = error_text(l);
  EXPECT_NE(msg.find("/nonexistent/x.json: cannot open"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not valid JSON"), std::string::npos) << msg;
}

TEST(ConfigTest, SplitList) {
  EXPECT_EQ(split_list(" a, b ,,c "), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(split_list("").empty());
}

}  // namespace
}  // namespace pgolf::config
