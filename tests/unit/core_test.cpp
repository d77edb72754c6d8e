// Unit tests for core helpers: atomic writes, file reads with clear errors, globbing, formatting.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "pgolf/core/error.h"
#include "pgolf/core/files.h"
#include "pgolf/core/log.h"

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

}  // namespace
}  // namespace pgolf::core
