// Fuzz target: tokenizer model loading (src/tokenizer/tokenizer.cpp), i.e. what TOKENIZER_PATH can
// point at. First byte even: the rest is the model file's bytes. First byte odd: the rest is a
// path below a sandbox folder holding a valid model, an empty file, a folder, a FIFO, a symlink
// to the folder and a dangling symlink (a path may also climb out with "..").
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_util.h"
#include "pgolf/tokenizer/tokenizer.h"

using namespace pgolf;

namespace {

// The sandbox, a fresh temporary folder removed at exit; "model" is tests/fuzz/tiny_sp.model.
struct Sandbox {
  std::string dir;
  Sandbox() {
    char tmpl[] = "/tmp/pgolf_tok_fuzz.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) std::abort();
    dir = tmpl;
    std::string model = PGOLF_FUZZ_DIR;
    model += "/tiny_sp.model";
    std::ifstream in(model, std::ios::binary);
    std::ofstream(dir + "/model", std::ios::binary) << in.rdbuf();
    std::ofstream(dir + "/empty");
    ::mkdir((dir + "/dir").c_str(), 0755);
    ::mkfifo((dir + "/fifo").c_str(), 0644);
    (void)!::symlink((dir + "/dir").c_str(), (dir + "/link").c_str());
    (void)!::symlink((dir + "/nowhere").c_str(), (dir + "/dangling").c_str());
  }
  ~Sandbox() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

void exercise(const tokenizer::Tokenizer& tok) {
  const auto ids = tok.encode("Hello, world. 12345 \xe2\x82\xac \xff");
  tok.decode(ids);
  for (int id : {0, 1, 2, static_cast<int>(tok.vocab_size()) - 1}) {
    if (id < 0 || id >= tok.vocab_size()) continue;
    tok.id_to_piece(id);
    tok.is_byte(id);
    tok.is_control(id);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemFile file;
  static const Sandbox sandbox;
  if (size == 0) return 0;
  if (data[0] % 2 == 0) {
    const std::string& path = file.set(data + 1, size - 1);
    fuzz::expect_success_or_error("Tokenizer(model bytes)",
                                  [&] { exercise(tokenizer::Tokenizer(path)); });
    return 0;
  }
  const std::string path =
      sandbox.dir + "/" + std::string(reinterpret_cast<const char*>(data) + 1, size - 1);
  fuzz::expect_success_or_error("Tokenizer(path)", [&] { exercise(tokenizer::Tokenizer(path)); });
  return 0;
}
