// Unit tests for core helpers: atomic writes, file reads with clear errors, globbing, formatting.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "pgolf/core/error.h"
#include "pgolf/core/files.h"
#include "pgolf/core/log.h"
#include "pgolf/core/runtime.h"
#include "pgolf/core/pickle_compat.h"
#include "pgolf/core/tensor_io.h"

namespace pgolf::core {
namespace {

TEST(CoreFilesTest, AtomicWriteReplacesWholeFile) {
  const std::string path = ::testing::TempDir() + "/atomic.bin";
  write_file_atomic(path, std::string("first version"));
  write_file_atomic(path, std::string("second"));
  EXPECT_EQ(read_text_file(path), "second");
  EXPECT_TRUE(glob_sorted(path + ".tmp.*").empty()) << "temporary file left behind";
}

TEST(CoreFilesTest, AtomicWriteIntoMissingDirFailsClearly) {
  try {
    write_file_atomic("/nonexistent-dir/x.bin", std::string("x"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/x.bin"), std::string::npos);
  }
}

TEST(CoreFilesTest, ReadMissingFileIsInputError) {
  try {
    read_file("/nonexistent/file.bin");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/file.bin"), std::string::npos);
  }
}

TEST(CoreFilesTest, RemovesOnlyStaleTemporaryFiles) {
  const std::string dir = ::testing::TempDir() + "/stale_tmp";
  std::filesystem::remove_all(dir);  // files of an earlier run of this test are stale too
  std::filesystem::create_directories(dir);
  const std::string live = dir + "/a.pt.tmp." + std::to_string(::getpid()) + ".7";
  const std::string dead = dir + "/a.pt.tmp.999999999.12";  // beyond pid_max: never alive
  for (const auto& p : {live, dead, dir + "/a.pt", dir + "/notes.tmp.txt"}) std::ofstream(p) << "x";
  EXPECT_EQ(remove_stale_temp_files(dir), 1);
  EXPECT_FALSE(file_exists(dead));
  EXPECT_TRUE(file_exists(live));
  EXPECT_TRUE(file_exists(dir + "/a.pt"));
  EXPECT_TRUE(file_exists(dir + "/notes.tmp.txt"));
  EXPECT_EQ(remove_stale_temp_files(dir + "/missing"), 0);
}

TEST(CoreFilesTest, StaleTemporaryFilesOfOneName) {
  const std::string dir = ::testing::TempDir() + "/stale_tmp_named";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string mine = dir + "/out.ptz.tmp.999999999.3";
  const std::string other = dir + "/other.ptz.tmp.999999999.4";
  const std::string longer = dir + "/out.ptz2.tmp.999999999.5";  // a name that only starts alike
  for (const auto& p : {mine, other, longer}) std::ofstream(p) << "x";
  EXPECT_EQ(remove_stale_temp_files(dir, "out.ptz"), 1);
  EXPECT_FALSE(file_exists(mine));
  EXPECT_TRUE(file_exists(other));
  EXPECT_TRUE(file_exists(longer));
}

// Issue #17: `export --out` must not be the --checkpoint, under any other name.
TEST(CoreFilesTest, SameFileSeesThroughLinksAndPaths) {
  namespace fs = std::filesystem;
  const std::string dir = ::testing::TempDir() + "/same_file";
  fs::remove_all(dir);
  fs::create_directories(dir + "/sub");
  const std::string a = dir + "/a.pt";
  std::ofstream(a) << "weights";
  std::ofstream(dir + "/b.pt") << "weights";
  fs::create_symlink(a, dir + "/sym.pt");
  fs::create_hard_link(a, dir + "/hard.pt");
  EXPECT_TRUE(same_file(a, a));
  EXPECT_TRUE(same_file(a, dir + "/sub/../a.pt"));
  EXPECT_TRUE(same_file(a, dir + "/sym.pt"));
  EXPECT_TRUE(same_file(a, dir + "/hard.pt"));
  EXPECT_FALSE(same_file(a, dir + "/b.pt"));  // equal bytes, another file
  EXPECT_FALSE(same_file(a, dir + "/new.ptz"));  // does not exist yet
  // Neither exists: the canonical paths decide.
  EXPECT_TRUE(same_file(dir + "/new.ptz", dir + "/sub/../new.ptz"));
  EXPECT_FALSE(same_file(dir + "/missing.pt", dir + "/new.ptz"));
}

TEST(CoreFilesTest, GlobIsSorted) {
  const std::string dir = ::testing::TempDir();
  for (const char* n : {"g_b.bin", "g_a.bin", "g_c.bin"}) std::ofstream(dir + "/" + n) << "x";
  auto files = glob_sorted(dir + "/g_*.bin");
  ASSERT_EQ(files.size(), 3u);
  EXPECT_LT(files[0], files[1]);
  EXPECT_LT(files[1], files[2]);
}

TEST(CoreLogTest, FormatMatchesPrintf) {
  EXPECT_EQ(format("step:%d/%d val_loss:%.4f", 5, 20000, 1.234567), "step:5/20000 val_loss:1.2346");
}

// Issue 17 item 9: an expanded (stride-0) tensor reaches one stored value but has 2^30 elements;
// its first contiguous() would allocate 4 GiB. It must be refused by element count.
TEST(CoreTensorIoTest, ExpandedTensorIsRefusedByElementCount) {
  c10::Dict<std::string, torch::Tensor> dict;
  dict.insert("x", torch::zeros({1}).expand({int64_t{1} << 30}));
  const auto bytes = torch::pickle_save(dict);
  try {
    tensors_from_bytes(std::vector<char>(bytes.begin(), bytes.end()), "exp.pt");
    FAIL() << "expected an input error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find("exp.pt: entry 'x'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("expanded (stride-0)"), std::string::npos) << e.what();
  }
  // A view of part of a shared storage still loads.
  c10::Dict<std::string, torch::Tensor> views;
  const auto base = torch::arange(12, torch::kFloat);
  views.insert("a", base.slice(0, 0, 6));
  views.insert("b", base.slice(0, 6, 12));
  const auto vb = torch::pickle_save(views);
  const auto got = tensors_from_bytes(std::vector<char>(vb.begin(), vb.end()), "views.pt");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(torch::equal(got[1].second, base.slice(0, 6, 12)));
}

// ------------------------------------------------ Python state dicts (issue #16)

using namespace std::string_literals;

std::string pk(std::initializer_list<std::string> parts) {
  std::string s;
  for (const auto& p : parts) s += p;
  return s;
}
const std::string kOdictGlobal = "ccollections\nOrderedDict\n";
const std::string kKeyA = "X\x01\x00\x00\x00" "a"s;  // BINUNICODE 'a'

TEST(PickleCompatTest, OrderedDictBecomesDictAndMetadataIsDropped) {
  // OrderedDict() {'a': 1} with BUILD state {'_metadata': OrderedDict()}, as pickle.py writes it.
  const std::string in = pk({"\x80\x02"s, kOdictGlobal, "q\x00)Rq\x01("s, kKeyA, "K\x01u}q\x02"s,
                             "X\x09\x00\x00\x00"s, "_metadatah\x00)Rq\x03sb."s});
  const std::string want = pk({"\x80\x02}q\x01("s, kKeyA, "K\x01u."s});
  EXPECT_EQ(plain_dict_pickle(in.data(), in.size(), "t.pt"), want);
  // Without OrderedDicts the pickle comes back byte for byte.
  const std::string plain = pk({"\x80\x02}q\x00("s, kKeyA, "K\x01u."s});
  EXPECT_EQ(plain_dict_pickle(plain.data(), plain.size(), "t.pt"), plain);
}

TEST(PickleCompatTest, RefusesWhatAPlainDictCannotExpress) {
  const auto input_error = [](const std::string& in, const std::string& needle) {
    try {
      plain_dict_pickle(in.data(), in.size(), "odd.pt");
      ADD_FAILURE() << "expected an input error for " << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInput);
      EXPECT_NE(std::string(e.what()).find("odd.pt"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  // OrderedDict([('a', 1)]): built from arguments.
  input_error(pk({"\x80\x02"s, kOdictGlobal, "((("s, kKeyA, "K\x01tltR."s}), "with arguments");
  // A memo entry of the dropped BUILD state used afterwards.
  input_error(pk({"\x80\x02"s, kOdictGlobal, ")R}q\x05("s, kKeyA, "K\x01ub"s, "h\x05."s}),
              "dropped BUILD state");
  input_error(pk({"\x80\x04}."s}), "protocol 4");
  input_error(pk({"\x80\x02}"s}), "no STOP");
  input_error(pk({"\x80\x02u."s}), "no MARK");
}

// A state dict written by Python's torch.save(module.state_dict()) with torch 2.15: an OrderedDict
// with _metadata holding an fp32 Linear, a bf16 Embedding and a nested Sequential.
TEST(PickleCompatTest, ReadsAPythonModuleStateDict) {
  const char* src = std::getenv("PGOLF_SOURCE_DIR");
  ASSERT_NE(src, nullptr) << "PGOLF_SOURCE_DIR is set by ctest";
  const auto sd = load_tensors(std::string(src) +
                               "/tests/fuzz/corpus/checkpoint/python_odict_metadata.pt");
  ASSERT_EQ(sd.size(), 4u);
  const std::vector<std::string> names = {"a.weight", "e.weight", "b.0.weight", "b.0.bias"};
  for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(sd[i].first, names[i]);
  EXPECT_TRUE(torch::equal(sd[0].second, torch::arange(6, torch::kFloat).reshape({3, 2})));
  EXPECT_EQ(sd[1].second.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(sd[1].second.to(torch::kFloat),
                           torch::arange(8, torch::kFloat).reshape({4, 2}) / 4));
  EXPECT_TRUE(torch::equal(sd[2].second, torch::full({2, 2}, -1.5f)));
  EXPECT_TRUE(torch::equal(sd[3].second, torch::tensor({0.25f, 2.0f})));
}

// Issue 17 item 15: a symbolic link planted at a run folder's log or metrics path is refused.
TEST(CoreLogTest, OpenRefusesSymlinksAndAppends) {
  const std::string dir = ::testing::TempDir() + "/log_links";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string victim = dir + "/victim.txt";
  std::ofstream(victim) << "keep\n";
  std::filesystem::create_symlink(victim, dir + "/train.log");
  std::filesystem::create_symlink(victim, dir + "/metrics.jsonl");
  for (const auto& [log_path, metrics_path] :
       {std::pair<std::string, std::string>{dir + "/train.log", ""},
        std::pair<std::string, std::string>{"", dir + "/metrics.jsonl"}}) {
    Logger log(true);
    try {
      log.open(log_path, metrics_path);
      FAIL() << "expected an error for a symlink";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInput);
      EXPECT_NE(std::string(e.what()).find("is a symbolic link"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(read_text_file(victim), "keep\n");
  Logger log(true);
  log.open(dir + "/real.log", dir + "/real.jsonl");
  log.file_only("one");
  log.file_only("two");
  log.metric("m", {{"x", 1}});
  EXPECT_EQ(read_text_file(dir + "/real.log"), "one\ntwo\n");
  EXPECT_NE(read_text_file(dir + "/real.jsonl").find("\"x\":1"), std::string::npos);
}

// Issue 17 item 16: thread choice and time-left text.
TEST(CoreRuntimeTest, AutoThreadsLeavesBusyCoresAlone) {
  EXPECT_EQ(auto_threads(2, 1, 0.0), 2);   // idle 2-core box
  EXPECT_EQ(auto_threads(2, 1, 2.05), 1);  // busy with other work: one thread, no barrier stalls
  EXPECT_EQ(auto_threads(2, 1, 0.9), 1);
  EXPECT_EQ(auto_threads(16, 2, 4.0), 6);  // 12 free cores for 2 ranks
  EXPECT_EQ(auto_threads(16, 2, 0.0), 8);
  EXPECT_EQ(auto_threads(8, 16, 0.0), 1);  // more ranks than cores
  EXPECT_EQ(auto_threads(0, 0, -1.0), 1);  // unknown values
}

TEST(CoreLogTest, DurationAndEta) {
  EXPECT_EQ(format_duration(42.4), "42s");
  EXPECT_EQ(format_duration(85), "1m25s");
  EXPECT_EQ(format_duration(3720), "1h02m");
  EXPECT_EQ(eta_text(40, 100, 20), "eta 30s");
  EXPECT_EQ(eta_text(0, 100, 20), "eta ?");
  EXPECT_EQ(eta_text(5, 0, 20), "eta ?");
  EXPECT_EQ(eta_text(100, 100, 20), "eta 0s");
}

}  // namespace
}  // namespace pgolf::core
