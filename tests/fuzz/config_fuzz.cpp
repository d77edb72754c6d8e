// Fuzz target: JSON configuration files (src/config/resolve.cpp, validate.cpp) as `--config`
// reads them, then the dump `pgolf config --dump` prints; the same bytes also go through the
// strict env/flag value parsers.
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "pgolf/config/resolve.h"

using namespace pgolf;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemFile file;
  const std::string& path = file.set(data, size);
  fuzz::expect_success_or_error("resolve", [&] {
    config::Layers layers;
    layers.files = {path};
    const auto r = config::resolve(layers, /*world_size=*/1);
    config::dump(r).dump(2);
    config::validate(r.cfg, /*world_size=*/8);
  });
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_success_or_error("parse_value", [&] {
    int64_t i;
    double d;
    bool b;
    config::parse_value(text, i);
    config::parse_value(text, d);
    config::parse_value(text, b);
    config::split_list(text);
    config::Layers layers;
    layers.env = {{"NUM_LAYERS", text}, {"MATRIX_LR", text}};
    layers.flags = {{"tie_embeddings", text}, {"run_id", text}};
    config::Resolved r;
    config::apply_layers(layers, r);
  });
  return 0;
}
