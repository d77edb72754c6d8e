// Unit tests for configuration: defaults, precedence, uniqueness of names, strict parsing,
// validation reported all at once, and the dump round trip.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <set>

#include "pgolf/config/fields.h"
#include "pgolf/config/memory.h"
#include "pgolf/config/resolve.h"
#include "pgolf/config/suggest.h"
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
  const std::string all = validation_text(c, 3);
  EXPECT_NE(all.find("not divisible by num_heads"), std::string::npos) << all;
  EXPECT_NE(all.find("num_kv_heads"), std::string::npos) << all;
  EXPECT_NE(all.find("WORLD_SIZE 3 must divide 8"), std::string::npos) << all;
  Config d;
  d.train.train_batch_tokens = 786432 + 2048;
  d.train.train_seq_len = 2048;
  const auto errs2 = validate(d, 8);
  ASSERT_EQ(errs2.size(), 1u);
  EXPECT_NE(errs2[0].find("train_batch_tokens"), std::string::npos);
}

TEST(ConfigTest, DistTimeoutRange) {
  Config c;
  c.train.dist_timeout_seconds = 0.5;
  const std::string all = validation_text(c, 1);
  EXPECT_NE(all.find("dist_timeout_seconds: expected 1..86400, found 0.5"), std::string::npos) << all;
  Config d;
  d.train.dist_timeout_seconds = 5;
  d.optim.muon_ns_dtype = MuonNsDtype::kFp32;
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

// ---------------------------------------------------------------- issue 17 items 10-12

namespace issue17 {

TEST(ConfigValidationHolesTest, NonPositiveSizesNegativeRatesAndFractionsAreErrors) {
  Config c;
  c.model.model_dim = 0;
  c.optim.matrix_lr = -0.01;
  c.optim.tied_embed_lr = -1;
  c.eval.ttt_lora_lr = -0.5;
  c.train.swa_start_frac = 1.5;
  c.train.warmdown_iters = -1;
  c.optim.beta2 = 1.0;
  const std::string text = validation_text(c, 1);
  for (const char* key : {"model_dim: expected >= 1, found 0", "matrix_lr: expected >= 0",
                          "tied_embed_lr: expected >= 0", "ttt_lora_lr: expected >= 0",
                          "swa_start_frac: expected in [0,1], found 1.5",
                          "warmdown_iters: expected >= 0, found -1", "beta2: expected in [0,1)"})
    EXPECT_NE(text.find(key), std::string::npos) << key << "\n" << text;
  c = Config{};
  c.model.model_dim = -512;  // divisible by num_heads, even head_dim: passed before
  EXPECT_NE(validation_text(c, 1).find("model_dim: expected >= 1"), std::string::npos);
  c = Config{};
  c.optim.matrix_lr = 0;  // a frozen group is allowed
  c.train.swa_start_frac = 0;
  c.train.warmdown_iters = 0;
  EXPECT_EQ(validation_text(c, 1), "");
}

TEST(ConfigValidationHolesTest, FailedParseLeavesTheFieldAndAddsNoSecondError) {
  for (const char* value : {"abc", "1.5x", "12abc"}) {
    Layers l;
    l.env = {{"MLP_MULT", value}, {"NUM_LAYERS", value}};
    const std::string text = error_text(l, 1);
    EXPECT_NE(text.find("2 configuration error(s)"), std::string::npos) << text;
    EXPECT_EQ(text.find("mlp_mult: expected > 0"), std::string::npos) << text;
    EXPECT_EQ(text.find("num_layers: expected >= 1"), std::string::npos) << text;
  }
  double d = 7;
  int64_t i = 7;
  EXPECT_FALSE(parse_value("12abc", i));
  EXPECT_FALSE(parse_value("3.5x", d));
  EXPECT_EQ(i, 7);
  EXPECT_EQ(d, 7);
}

TEST(ConfigValidationHolesTest, KeyGivenTwiceWithDifferentValuesIsReported) {
  Layers l;
  l.files = {write_temp("twice.json", R"({"model_dim": 256, "model": {"model_dim": 512}})")};
  std::string text = error_text(l);
  // Both spellings and values named (JSON objects iterate in key order, so "model" comes first).
  for (const char* part : {"key 'model_dim' is given twice with different values",
                           "'model.model_dim' = 512", "'model_dim' = 256", "keep one"})
    EXPECT_NE(text.find(part), std::string::npos) << part << "\n" << text;
  l.files = {write_temp("same.json", R"({"model_dim": 256, "model": {"model_dim": 256}})")};
  Resolved r = resolve(l);
  EXPECT_EQ(r.cfg.model.model_dim, 256);
  l.files = {write_temp("literal.json", R"({"model": {"num_layers": 4, "num_layers": 5}})")};
  text = error_text(l);
  EXPECT_NE(text.find("key 'model.num_layers' appears twice in one object"), std::string::npos)
      << text;
}

TEST(ConfigMemoryTest, EstimateCountsTheModelAndScalesWithIt) {
  Config c;  // the PR #180 record: 10 x 512, ~25.5M parameters (README)
  const MemoryEstimate e = estimate_memory(c, 8);
  EXPECT_GT(e.params, 24e6);
  EXPECT_LT(e.params, 26.5e6);
  EXPECT_EQ(e.param_bytes, 4 * e.params);
  EXPECT_EQ(e.grad_bytes, 4 * e.params);
  EXPECT_GT(e.optimizer_bytes, 4 * e.params - 1);
  EXPECT_EQ(e.average_bytes, 4 * e.params);  // SWA on
  // 786432 tokens / 8 ranks = one micro-batch of 98304 tokens a rank.
  EXPECT_GT(e.activation_bytes, 98304.0 * 10 * 512 * 2);
  EXPECT_LT(e.total(), 20e9);
  EXPECT_DOUBLE_EQ(estimate_memory(c, 1).activation_bytes, e.activation_bytes);  // accum 8 vs 1
  c.train.swa_enabled = false;
  EXPECT_EQ(estimate_memory(c, 8).average_bytes, 0);
  Config wide;
  wide.model.model_dim = 8192;
  EXPECT_GT(estimate_memory(wide, 1).param_bytes, 16.0 * estimate_memory(Config{}, 1).param_bytes);
  wide.model.model_dim = 1000000;
  EXPECT_GT(estimate_memory(wide, 1).total(), 1e15);  // no overflow, no wrap to a small number
}

TEST(ConfigMemoryTest, FitErrorNamesDeviceAndParts) {
  Config c;
  c.model.model_dim = 8192;
  const MemoryEstimate e = estimate_memory(c, 1);
  EXPECT_EQ(memory_fit_error(e, 2 * e.total(), "cuda:0"), "");
  const std::string err = memory_fit_error(e, 16.0 * (1 << 30), "this host (physical RAM)");
  for (const char* part : {"this host (physical RAM) has 16.0 GiB", "weights ", "gradients ",
                           "optimiser state ", "activations of one micro-batch "})
    EXPECT_NE(err.find(part), std::string::npos) << part << "\n" << err;
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(3.0 * (1 << 30)), "3.0 GiB");
}

TEST(ConfigSuggestTest, EditDistanceAndClosestName) {
  EXPECT_EQ(edit_distance("NUM_LAYER", "NUM_LAYERS"), 1u);
  EXPECT_EQ(edit_distance("NUM_LAYRES", "NUM_LAYERS"), 1u);  // a transposition
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("trian", "train"), 1u);
  EXPECT_EQ(closest_name("iteration", {"iterations", "warmup-steps"}, 2), "iterations");
  EXPECT_EQ(closest_name("xyz", {"iterations", "train"}, 2), "");
  EXPECT_EQ(typo_distance("SEEDS"), 1u);
  EXPECT_EQ(typo_distance("NUM_LAYER"), 2u);
}

TEST(ConfigSuggestTest, LookAlikeEnvironmentVariablesAreFound) {
  const std::map<std::string, std::string> env = {
      {"NUM_LAYER", "4"}, {"MODEL_DIMS", "256"}, {"TTT_LORA_RANKS", "4"}, {"MUON_WD", "0.1"},
      {"NUM_LAYERS", "4"}, {"SEEDS", "1"}};
  const auto w = env_name_warnings(env);
  std::string all;
  for (const auto& x : w) all += x + "\n";
  EXPECT_EQ(w.size(), 5u) << all;
  for (const char* s : {"NUM_LAYER is not a pgolf knob and is ignored; did you mean NUM_LAYERS?",
                        "MODEL_DIMS is not a pgolf knob and is ignored; did you mean MODEL_DIM?",
                        "TTT_LORA_RANKS is not a pgolf knob and is ignored; did you mean "
                        "TTT_LORA_RANK?",
                        "MUON_WD is not a pgolf knob", "SEEDS is not a pgolf knob"})
    EXPECT_NE(all.find(s), std::string::npos) << s << "\n" << all;
}

TEST(ConfigSuggestTest, CommonVariablesAreNotWarnedAbout) {
  std::map<std::string, std::string> env;
  for (const char* n :
       {"PATH", "HOME", "USER", "SHELL", "TERM", "LANG", "PWD", "OLDPWD", "TMPDIR", "HOSTNAME",
        "DISPLAY", "EDITOR", "LOGNAME", "SHLVL", "COLUMNS", "LINES", "TZ", "MAIL", "PAGER",
        "OMP_NUM_THREADS", "OMP_PROC_BIND", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES",
        "CUDA_HOME", "CUDA_LAUNCH_BLOCKING", "NCCL_DEBUG", "NCCL_SOCKET_IFNAME", "TORCH_HOME",
        "TORCHELASTIC_RUN_ID", "TORCHELASTIC_RESTART_COUNT", "RANK", "WORLD_SIZE", "LOCAL_RANK",
        "LOCAL_WORLD_SIZE", "GROUP_RANK", "ROLE_RANK", "MASTER_ADDR", "MASTER_PORT",
        "PGOLF_DEBUG", "PGOLF_STRICT_ENV", "PYTHONPATH", "LD_LIBRARY_PATH", "LC_ALL",
        "XDG_RUNTIME_DIR", "SSH_AUTH_SOCK", "VIRTUAL_ENV", "CONDA_PREFIX", "HF_HOME",
        "GTEST_FILTER", "CCACHE_DIR", "HOSTTYPE", "MACHTYPE", "OSTYPE", "MANPATH", "INFOPATH",
        "LESSOPEN", "LS_COLORS", "MOTD_SHOWN", "DEBIAN_FRONTEND", "NO_COLOR", "CI", "DEVICE",
        "SEED", "THREADS", "run_id", "path"})
    env[n] = "1";
  const auto w = env_name_warnings(env);
  EXPECT_TRUE(w.empty()) << w.front();
}

}  // namespace issue17

}  // namespace
}  // namespace pgolf::config
