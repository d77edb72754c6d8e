// CaseOps and byte sidecars (issue 21, Data): the transform against hand-written cases of the
// record's rules, its exact round trip over the in-repo sample, the decoder's refusals, sidecar
// naming/pairing/loading, and the encode pipeline with a CaseOps tokenizer trained here: the
// operators are ids 4..7, the sidecar is 0 at BOS and sums to the documents' UTF-8 bytes.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <numeric>

#include "pgolf/core/error.h"
#include "pgolf/core/files.h"
#include "pgolf/data/caseops.h"
#include "pgolf/data/encode.h"
#include "pgolf/data/loader.h"
#include "pgolf/data/shard.h"
#include "pgolf/data/sidecar.h"
#include "pgolf/tokenizer/tokenizer.h"
#include "pgolf/tokenizer/trainer.h"

namespace pgolf::data {
namespace {

const std::string T = "\xEE\x80\x81", A = "\xEE\x80\x82", C = "\xEE\x80\x83", E = "\xEE\x80\x84";

std::string temp_dir() {
  std::string tmpl = ::testing::TempDir() + "/pgolf_caseops_XXXXXX";
  EXPECT_NE(::mkdtemp(tmpl.data()), nullptr);
  return tmpl;
}

std::string sample_path() {
  const char* dir = std::getenv("PGOLF_TEST_DATA");
  return std::string(dir ? dir : "tests/data") + "/caseops_sample.txt";
}

std::vector<std::string> sample_docs() {
  DocumentReader r(sample_path(), DocFormat::kText);
  return read_documents(r, 0);
}

template <class Fn>
void expect_input_error(Fn&& fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "expected an input error mentioning " << needle;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(CaseOpsTest, EncodesTheRecordsRules) {
  EXPECT_EQ(caseops::encode("The NASA Launch"), T + "the " + A + "nasa " + T + "launch");
  EXPECT_EQ(caseops::encode("iPhone"), "i" + C + "phone");
  EXPECT_EQ(caseops::encode("McDonald"), T + "mc" + C + "donald");
  EXPECT_EQ(caseops::encode("HeLLo"), T + "he" + C + "l" + C + "lo");
  EXPECT_EQ(caseops::encode("A b I"), T + "a b " + T + "i");  // one capital: TITLE + letter
  EXPECT_EQ(caseops::encode("x86_64 IPv6"), "x86_64 " + T + "i" + C + "pv6");
  EXPECT_EQ(caseops::encode("lower"), "lower");
  EXPECT_EQ(caseops::encode("\xC3\x89" "cole"), "\xC3\x89" "cole");  // non-ASCII untouched
  EXPECT_EQ(caseops::encode("a" + T + "b"), "a" + E + T + "b");      // literal operator escaped
  EXPECT_EQ(caseops::encode(E), E + E);
}

TEST(CaseOpsTest, SampleRoundTripsExactlyAndLosesEveryCapital) {
  const auto docs = sample_docs();
  ASSERT_GE(docs.size(), 40u) << sample_path();
  int64_t capitals = 0;
  for (size_t d = 0; d < docs.size(); ++d) {
    const std::string enc = caseops::encode(docs[d]);
    ASSERT_EQ(caseops::decode(enc), docs[d]) << "document " << d;
    for (char c : docs[d]) capitals += c >= 'A' && c <= 'Z';
    for (size_t i = 0; i < enc.size(); ++i)
      ASSERT_FALSE(enc[i] >= 'A' && enc[i] <= 'Z') << "document " << d << " byte " << i;
    // The per-piece counts of any split into pieces sum to the original bytes (7-byte pieces,
    // cut anywhere but inside a character).
    std::vector<std::string> pieces;
    for (size_t i = 0; i < enc.size();) {
      size_t j = std::min(enc.size(), i + 7);
      while (j < enc.size() && (static_cast<unsigned char>(enc[j]) & 0xC0) == 0x80) ++j;
      pieces.push_back(enc.substr(i, j - i));
      i = j;
    }
    const auto counts = caseops::original_byte_counts(pieces);
    ASSERT_EQ(std::accumulate(counts.begin(), counts.end(), int64_t{0}),
              static_cast<int64_t>(docs[d].size()))
        << "document " << d;
  }
  EXPECT_GT(capitals, 500);  // the sample exercises the transform (973 capitals)
}

TEST(CaseOpsTest, OperatorsCountNoBytesAndLettersOne) {
  const auto counts = caseops::original_byte_counts({T, "hello", " ", A + "ab", E, T, "\xC3\xA9"});
  EXPECT_EQ(counts, (std::vector<int64_t>{0, 5, 1, 2, 0, 3, 2}));  // escaped T: its 3 bytes
}

TEST(CaseOpsTest, DecoderRefusesMalformedText) {
  expect_input_error([] { caseops::decode("a" + T + "b"); }, "TITLE placed inside a word");
  expect_input_error([] { caseops::decode(T + " x"); }, "not followed by an ASCII letter");
  expect_input_error([] { caseops::decode("a" + C + C + "b"); }, "CAPNEXT twice");
  expect_input_error([] { caseops::decode("ab" + E); }, "ESC at the end");
  expect_input_error([] { caseops::decode("ab " + A); }, "at the end of the text");
  expect_input_error([] { caseops::original_byte_counts({T, " "}); }, "byte 3");
}

// ---- sidecars ---------------------------------------------------------------------------------

TEST(SidecarTest, NamesPairWithTheirTokenShards) {
  EXPECT_TRUE(is_byte_sidecar("/d/fineweb_val_bytes_000000.bin"));
  EXPECT_FALSE(is_byte_sidecar("/d_bytes_/fineweb_val_000000.bin"));
  EXPECT_EQ(sidecar_path_for("/d/fineweb_val_000003.bin"), "/d/fineweb_val_bytes_000003.bin");
  EXPECT_EQ(sidecar_path_for("x_12.bin"), "x_bytes_12.bin");
  EXPECT_EQ(sidecar_path_for("/d/val.bin"), "");
  EXPECT_EQ(sidecar_path_for("/d/fineweb_val_.bin"), "");
}

TEST(SidecarTest, ValGlobNeverReadsASidecarAsTokens) {
  const std::string dir = temp_dir();
  write_shard(dir + "/fineweb_val_000000.bin", std::vector<uint16_t>{1, 5, 6});
  write_byte_sidecar(dir + "/fineweb_val_bytes_000000.bin", {0, 3, 4});
  EXPECT_EQ(resolve_files(dir, "fineweb_val_*.bin"),
            std::vector<std::string>{dir + "/fineweb_val_000000.bin"});
  expect_input_error([&] { resolve_files(dir, "fineweb_val_bytes_*.bin"); },
                     "only byte sidecars");
}

TEST(SidecarTest, LoadsCutsAndChecksEachShard) {
  const std::string dir = temp_dir();
  const std::vector<std::string> files = {dir + "/fineweb_val_000000.bin",
                                          dir + "/fineweb_val_000001.bin"};
  write_shard(files[0], std::vector<uint16_t>{1, 5, 6});
  write_shard(files[1], std::vector<uint16_t>{1, 7});
  EXPECT_FALSE(load_val_bytes(files, 5).defined());  // no sidecars: bpb from the LUTs
  write_byte_sidecar(dir + "/fineweb_val_bytes_000000.bin", {0, 3, 4});
  expect_input_error([&] { load_val_bytes(files, 5); }, "fineweb_val_bytes_000001.bin");
  write_byte_sidecar(dir + "/fineweb_val_bytes_000001.bin", {0, 9, 9});
  expect_input_error([&] { load_val_bytes(files, 5); }, "expected 2 entries");
  write_byte_sidecar(dir + "/fineweb_val_bytes_000001.bin", {0, 9});
  const auto b = load_val_bytes(files, 4);
  ASSERT_EQ(b.scalar_type(), torch::kInt32);
  EXPECT_TRUE(torch::equal(b, torch::tensor({0, 3, 4, 0}, torch::kInt32)));
  expect_input_error([&] { write_byte_sidecar(dir + "/x_bytes_0.bin", {70000}); }, "uint16");
}

TEST(SidecarTest, DroppedEdgeWhitespaceIsCreditedToTheEdgePieces) {
  // "  ab c " as a normaliser that strips the ends would give it: pieces "ab" [2,4), " c" [4,6).
  const auto counts = token_byte_counts({{"ab", 2, 4}, {" c", 4, 6}}, 7, /*caseops=*/false);
  EXPECT_EQ(counts, (std::vector<int64_t>{4, 3}));
  EXPECT_TRUE(token_byte_counts({}, 3, false).empty());
}

// ---- the encode pipeline with a CaseOps tokenizer ----------------------------------------------

TEST(CaseOpsEncodeTest, SidecarSumsToTheSampleBytesWithZeroAtBos) {
  const std::string dir = temp_dir();
  const auto docs = sample_docs();
  std::vector<std::string> train;
  for (const auto& d : docs) train.push_back(caseops::encode(tokenizer::prepare_training_text(d)));
  tokenizer::TrainTokenizerOptions topts;
  topts.model_prefix = dir + "/caseops";
  topts.vocab_size = 400;
  topts.threads = 1;
  const auto& ops = caseops::operator_symbols();
  topts.user_defined_symbols.assign(ops.begin(), ops.end());
  const tokenizer::Tokenizer tok(tokenizer::train_tokenizer(train, topts));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(tok.piece_to_id(ops[size_t(i)]), 4 + i);

  EncodeOptions o;
  o.output_dir = dir + "/shards";
  o.vocab_size = tok.vocab_size();
  o.num_val_docs = 30;  // a val split with a sidecar and a train split without
  o.shard_size = 4000;  // several val shards, documents straddling them
  o.caseops = true;
  const DocEncoder enc = [&](const std::vector<std::string>& batch, size_t with_pieces) {
    std::vector<EncodedDoc> out(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      std::string joined;
      for (auto& p : tok.encode_pieces(batch[i])) {
        out[i].ids.push_back(p.id);
        joined += p.surface;
        if (i < with_pieces) out[i].pieces.push_back({p.surface, p.begin, p.end});
      }
      EXPECT_EQ(joined, batch[i]) << "surfaces do not spell the tokenizer input";
    }
    return out;
  };
  DocumentReader reader(sample_path(), DocFormat::kText);
  const auto st = encode_documents(reader, enc, o);
  int64_t val_bytes = 0;
  for (int i = 0; i < 30; ++i) val_bytes += static_cast<int64_t>(docs[size_t(i)].size());
  EXPECT_EQ(st.caseops_round_trips, static_cast<int64_t>(docs.size()));
  EXPECT_EQ(st.val_text_bytes, val_bytes);
  EXPECT_EQ(st.val_sidecar_bytes, val_bytes);
  EXPECT_EQ(st.val_docs_uncovered, 0);
  EXPECT_GE(st.files_val, 2);
  EXPECT_EQ(st.files_val_bytes, st.files_val);
  EXPECT_TRUE(core::glob_sorted(o.output_dir + "/fineweb_train_bytes_*.bin").empty());
  // Read back through the loader's API: the glob skips the sidecars, which pair one to one.
  const auto val = resolve_files(o.output_dir, "fineweb_val_*.bin");
  ASSERT_EQ(static_cast<int64_t>(val.size()), st.files_val);
  const auto tokens = load_validation_tokens(val, 1);
  const auto bytes = load_val_bytes(val, tokens.numel());
  ASSERT_TRUE(bytes.defined());
  EXPECT_EQ(bytes.sum().item<int64_t>(), val_bytes);
  const auto at_bos = bytes.index({tokens == tok.bos_id()});
  EXPECT_EQ(at_bos.numel(), 30);
  EXPECT_EQ(at_bos.abs().sum().item<int64_t>(), 0);
  EXPECT_TRUE((bytes.index({(tokens >= 4) & (tokens <= 7)}) == 0).all().item<bool>());
}

}  // namespace
}  // namespace pgolf::data
