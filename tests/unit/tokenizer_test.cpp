// Unit tests for pgolf::tokenizer: loading errors, encode/decode, the byte tables (reference-spec
// §3.2) on the dev sp1024 model (tests/data), per-position byte counting (§3.3) and tokenizer training.
#include "pgolf/tokenizer/tokenizer.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <sstream>

#include "pgolf/core/error.h"
#include "pgolf/core/files.h"
#include "pgolf/tokenizer/byte_luts.h"
#include "pgolf/tokenizer/trainer.h"

namespace pgolf::tokenizer {
namespace {

std::string dev_model() {
  // The dev sp1024 model, committed under tests/data (see the README there).
  const char* dir = std::getenv("PGOLF_TEST_DATA");
  return std::string(dir ? dir : "tests/data") + "/dev_sp1024.model";
}

template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(PieceBytesTest, FollowsTheReferenceTable) {
  auto special = piece_bytes(true, false, "<s>");
  EXPECT_EQ(special.base_bytes, 0);
  EXPECT_FALSE(special.has_leading_space);
  EXPECT_TRUE(special.is_boundary);
  auto byte = piece_bytes(false, true, "<0xE2>");
  EXPECT_EQ(byte.base_bytes, 1);
  EXPECT_FALSE(byte.has_leading_space);
  EXPECT_FALSE(byte.is_boundary);
  auto word = piece_bytes(false, false, "\xE2\x96\x81the");
  EXPECT_EQ(word.base_bytes, 3);
  EXPECT_TRUE(word.has_leading_space);
  EXPECT_FALSE(word.is_boundary);
  EXPECT_EQ(piece_bytes(false, false, "the").base_bytes, 3);
  EXPECT_FALSE(piece_bytes(false, false, "the").has_leading_space);
  EXPECT_EQ(piece_bytes(false, false, "\xE2\x96\x81").base_bytes, 0);       // bare marker
  EXPECT_EQ(piece_bytes(false, false, "\xC3\xA9t\xC3\xA9").base_bytes, 5);  // "été"
}

TEST(TokenizerTest, LoadErrorsNameTheFile) {
  EXPECT_NE(error_of([] { Tokenizer t("/nonexistent/x.model"); }).find("/nonexistent/x.model"),
            std::string::npos);
  const std::string junk = ::testing::TempDir() + "/junk.model";
  core::write_file_atomic(junk, std::string("this is not a protobuf"));
  const auto msg = error_of([&] { Tokenizer t(junk); });
  EXPECT_NE(msg.find(junk), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a valid SentencePiece"), std::string::npos) << msg;
}

// Issue #10: TOKENIZER_PATH pointing at a folder, a FIFO or a device is an input error, not a
// hang or an endless read.
TEST(TokenizerTest, OnlyRegularFilesAreRead) {
  const std::string dir = ::testing::TempDir() + "/tok_paths";
  ::mkdir(dir.c_str(), 0755);
  ::mkfifo((dir + "/fifo").c_str(), 0644);
  for (const std::string& path : {dir, dir + "/fifo", std::string("/dev/zero")}) {
    const auto msg = error_of([&] { Tokenizer t(path); });
    EXPECT_NE(msg.find("not a regular file"), std::string::npos) << path << ": " << msg;
  }
  EXPECT_NE(error_of([] { Tokenizer t(std::string("a\0b", 3)); }).find("NUL"), std::string::npos);
}

TEST(TokenizerTest, DevModelEncodesDecodesAndChecksVocab) {
  Tokenizer tok(dev_model());
  EXPECT_EQ(tok.vocab_size(), 1024);
  EXPECT_EQ(tok.pad_id(), 0);
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_EQ(tok.unk_id(), 3);
  const std::string text = "The quick brown fox, 2024 times.";
  const auto ids = tok.encode(text);
  EXPECT_EQ(tok.decode(ids), text);
  EXPECT_NO_THROW(check_vocab_size(tok, 1024));
  const auto msg = error_of([&] { check_vocab_size(tok, 8192); });
  EXPECT_NE(msg.find("VOCAB_SIZE=8192"), std::string::npos) << msg;
  EXPECT_NE(msg.find("1024"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { tok.decode({5, 1024}); }).find("id 1024"), std::string::npos);
  const std::vector<std::string> docs = {"a b c", "", "Ünïcödé ☃ text", text, "x\ny\n\nz"};
  const auto batch = tok.encode_batch(docs, 2);
  ASSERT_EQ(batch.size(), docs.size());
  for (size_t i = 0; i < docs.size(); ++i) EXPECT_EQ(batch[i], tok.encode(docs[i])) << i;
}

TEST(ByteLutsTest, DevModelTablesHaveTheReferenceLayout) {
  Tokenizer tok(dev_model());
  const auto luts = build_byte_luts(tok, 1024);
  ASSERT_EQ(luts.size(), 1024);
  EXPECT_EQ(luts.base_bytes.dtype(), torch::kInt16);
  EXPECT_EQ(luts.has_leading_space.dtype(), torch::kBool);
  EXPECT_EQ(luts.is_boundary.dtype(), torch::kBool);
  auto base = luts.base_bytes.accessor<int16_t, 1>();
  auto space = luts.has_leading_space.accessor<bool, 1>();
  auto boundary = luts.is_boundary.accessor<bool, 1>();
  for (int id = 0; id < 4; ++id) {  // pad, bos, eos, unk
    EXPECT_TRUE(boundary[id] && base[id] == 0 && !space[id]) << id;
  }
  for (int id = 4; id < 260; ++id) {  // <0x00> ... <0xFF>
    ASSERT_TRUE(tok.is_byte(id)) << id;
    EXPECT_TRUE(!boundary[id] && base[id] == 1 && !space[id]) << id;
  }
  const std::string marker = "\xE2\x96\x81";
  for (int id = 260; id < 1024; ++id) {
    const std::string piece = tok.id_to_piece(id);
    const bool starts = piece.rfind(marker, 0) == 0;
    EXPECT_FALSE(boundary[id]) << id;
    EXPECT_EQ(space[id], starts) << id << " " << piece;
    EXPECT_EQ(base[id], static_cast<int>(piece.size() - (starts ? 3 : 0))) << id << " " << piece;
  }
  // A larger VOCAB_SIZE pads with boundary rows of 0 bytes.
  const auto big = build_byte_luts(tok, 1100);
  ASSERT_EQ(big.size(), 1100);
  EXPECT_TRUE(torch::equal(big.base_bytes.narrow(0, 0, 1024), luts.base_bytes));
  EXPECT_EQ(big.base_bytes.narrow(0, 1024, 76).abs().sum().item<int64_t>(), 0);
  EXPECT_TRUE(big.is_boundary.narrow(0, 1024, 76).all().item<bool>());
  EXPECT_FALSE(big.has_leading_space.narrow(0, 1024, 76).any().item<bool>());
}

// After BOS, a document's bytes are exactly its normalised UTF-8 length: the leading "▁" of the
// first piece is not counted (BOS is a boundary), every later "▁" counts as one space.
TEST(ByteLutsTest, CountBytesEqualsTextBytes) {
  Tokenizer tok(dev_model());
  const auto luts = build_byte_luts(tok, 1024);
  const std::vector<std::string> docs = {"Hello world, this is a test of bytes.",
                                         "caf\xC3\xA9 na\xC3\xAFve \xE2\x98\x83 snow", "x"};
  std::vector<int64_t> stream;
  int64_t expected = 0;
  for (const auto& d : docs) {
    stream.push_back(tok.bos_id());
    for (int id : tok.encode(d)) stream.push_back(id);
    expected += static_cast<int64_t>(d.size());
  }
  auto t = torch::tensor(stream);
  const int64_t n = t.numel() - 1;
  auto bytes = count_bytes(luts, t.narrow(0, 0, n), t.narrow(0, 1, n));
  EXPECT_EQ(bytes.dtype(), torch::kInt16);
  EXPECT_EQ(bytes.sum().item<int64_t>(), expected);
  // Shape is kept; a space after a non-boundary token is counted, after BOS it is not.
  int the = -1;  // id of "▁the"
  for (int id = 0; id < tok.vocab_size() && the < 0; ++id)
    if (tok.id_to_piece(id) == "\xE2\x96\x81the") the = id;
  ASSERT_GE(the, 0);
  auto prev = torch::tensor({{1, 300}}), tgt = torch::tensor({{the, the}});
  auto two = count_bytes(luts, prev, tgt);
  ASSERT_EQ(two.sizes(), tgt.sizes());
  EXPECT_EQ(two[0][0].item<int>(), 3);
  EXPECT_EQ(two[0][1].item<int>(), 4);
}

TEST(TrainerTest, PrepareTextMatchesPythonStrip) {
  EXPECT_EQ(prepare_training_text(std::string("  a\0b \t\n", 8)), "a b");
  EXPECT_EQ(prepare_training_text("\xE3\x80\x80\xC2\xA0x y\xE2\x80\x83\x1f"), "x y");
  EXPECT_EQ(prepare_training_text(" \n\t "), "");
  EXPECT_EQ(prepare_training_text("\xE2\x96\x81keep\xE2\x96\x81"), "\xE2\x96\x81keep\xE2\x96\x81");
}

TEST(TrainerTest, ArgumentsAreTheReferenceSettings) {
  TrainTokenizerOptions o;
  o.model_prefix = "p";
  const auto a = trainer_arguments(o);
  const std::map<std::string, std::string> expect = {{"model_type", "bpe"},
                                                     {"vocab_size", "1024"},
                                                     {"character_coverage", "0.999"},
                                                     {"byte_fallback", "true"},
                                                     {"split_digits", "true"},
                                                     {"normalization_rule_name", "nmt_nfkc"},
                                                     {"add_dummy_prefix", "false"},
                                                     {"pad_id", "0"},
                                                     {"bos_id", "1"},
                                                     {"eos_id", "2"},
                                                     {"unk_id", "3"},
                                                     {"hard_vocab_limit", "false"}};
  for (const auto& [k, v] : expect) EXPECT_EQ(a.at(k), v) << k;
}

TEST(TrainerTest, TrainsASmallModelWithTheReferenceIdLayout) {
  std::vector<std::string> docs;
  for (const char* lic : {"GPL-3", "Apache-2.0", "MPL-2.0"}) {
    std::stringstream ss(core::read_text_file(std::string("/usr/share/common-licenses/") + lic));
    std::string para, line;
    while (std::getline(ss, line)) {
      if (!prepare_training_text(line).empty()) {
        para += line + "\n";
      } else if (!para.empty()) {
        docs.push_back(prepare_training_text(para));
        para.clear();
      }
    }
  }
  ASSERT_GT(docs.size(), 100u);
  TrainTokenizerOptions o;
  o.model_prefix = ::testing::TempDir() + "/tiny_sp";
  o.vocab_size = 400;
  o.threads = 2;
  const auto model = train_tokenizer(docs, o);
  EXPECT_TRUE(core::file_exists(o.model_prefix + ".vocab"));
  EXPECT_TRUE(core::glob_sorted(o.model_prefix + ".*.tmp.*").empty());
  const auto vocab = core::read_text_file(o.model_prefix + ".vocab");
  EXPECT_EQ(vocab.substr(0, 26), "<pad>\t0\n<s>\t0\n</s>\t0\n<unk>");
  EXPECT_EQ(std::count(vocab.begin(), vocab.end(), '\n'), 400);
  // Training is deterministic: the same documents give the same model bytes.
  const auto first = core::read_file(model);
  train_tokenizer(docs, o);
  EXPECT_TRUE(core::read_file(model) == first) << "retraining changed the model";
  Tokenizer tok(model);
  EXPECT_EQ(tok.vocab_size(), 400);
  EXPECT_TRUE(tok.is_control(0) && tok.is_control(1) && tok.is_control(2) && tok.is_unknown(3));
  EXPECT_EQ(tok.id_to_piece(4), "<0x00>");
  EXPECT_TRUE(tok.is_byte(259) && !tok.is_byte(260));
  // nmt_nfkc folds newlines and runs of spaces into one space; plain text round-trips.
  const std::string plain = "you can change the software or use pieces of it in new programs.";
  EXPECT_EQ(tok.decode(tok.encode(plain)), plain);
  EXPECT_EQ(tok.decode(tok.encode("a\n  b")), "a b");
  // Digits are split, and a character never seen falls back to bytes.
  for (int id : tok.encode("2007")) EXPECT_EQ(tok.id_to_piece(id).size(), 1u);
  for (int id : tok.encode("\xE2\x98\x83")) EXPECT_TRUE(tok.is_byte(id));
  o.vocab_size = 100;
  EXPECT_NE(error_of([&] { train_tokenizer(docs, o); }).find("[260, 65536]"), std::string::npos);
}

}  // namespace
}  // namespace pgolf::tokenizer
