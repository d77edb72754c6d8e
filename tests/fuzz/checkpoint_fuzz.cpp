// Fuzz target: training checkpoints (src/train/checkpoint.cpp over src/core/tensor_io.cpp) and the
// loader position they carry. The input is a checkpoint file, read as `--resume` does (zip CRCs
// verified) and, to reach the pickle and header parsers past the CRCs, as plain tensor bytes.
#include <cstdint>

#include "fuzz_util.h"
#include "pgolf/core/tensor_io.h"
#include "pgolf/data/loader.h"
#include "pgolf/train/checkpoint.h"

using namespace pgolf;

namespace {

void use(const train::Checkpoint& c) {
  if (c.state.contains("loader")) data::loader_state_from_json(c.state.at("loader"));
  train::with_prefix(c.tensors, "model/");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemFile file;
  const std::string& path = file.set(data, size);
  fuzz::expect_success_or_error("load_checkpoint", [&] { use(train::load_checkpoint(path)); });
  fuzz::expect_success_or_error("tensors_from_bytes", [&] {
    auto all = core::tensors_from_bytes(fuzz::as_chars(data, size), "fuzz bytes");
    use(train::checkpoint_from_tensors(std::move(all), "fuzz bytes"));
  });
  return 0;
}
