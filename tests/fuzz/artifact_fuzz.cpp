// Fuzz target: artifacts (src/quant/container.cpp: zstd/zlib frame, torch.save zip checked by
// zip_check.cpp, the {"w", "m"} pickle) through to dequantisation against a model's shapes. The
// input is an artifact file; an input starting with "PK" (an uncompressed torch.save archive) is
// also fed to the container parser directly, past the compression layer and its checksum.
#include <cstdint>

#include "fuzz_util.h"
#include "pgolf/quant/container.h"
#include "pgolf/quant/quantize.h"
#include "seed_models.h"

using namespace pgolf;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemFile file;
  static const core::NamedTensors model = fuzz::seed_state_dict();
  const std::string& path = file.set(data, size);
  fuzz::expect_success_or_error("read_artifact", [&] {
    quant::dequantize_state_dict(quant::read_artifact(path), model, path);
  });
  if (size >= 2 && data[0] == 'P' && data[1] == 'K') {
    fuzz::expect_success_or_error("deserialize_quant", [&] {
      const auto q = quant::deserialize_quant(fuzz::as_chars(data, size), "fuzz archive");
      quant::dequantize_state_dict(q, model, "fuzz archive");
    });
  }
  return 0;
}
