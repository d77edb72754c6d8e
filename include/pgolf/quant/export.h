// The one export path shared by `pgolf export` and the end of `pgolf train` (PR #180 main():
// prune -> mixed quantise -> torch.save -> zstd-22 -> file), and the matching load (file ->
// decompress -> torch.load -> dequantise against a template state dict).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pgolf/config/config.h"
#include "pgolf/quant/container.h"
#include "pgolf/quant/prune.h"
#include "pgolf/quant/quantize.h"
#include "pgolf/quant/selective_prune.h"

namespace pgolf::quant {

struct TensorReport {
  std::string name;
  std::vector<int64_t> shape;
  std::string dtype;     // input dtype
  std::string category;  // category_of(name)
  std::string kind;      // meta kind: passthrough..., int5, int6, int8
  int64_t stored_bytes = 0;  // bytes of its entries in "w" (q + scale, or the passthrough tensor)
  bool pruned = false;
  float prune_threshold = 0.0f;
  int64_t prune_count = 0;
};

struct ExportReport {
  std::string path;
  std::vector<TensorReport> tensors;
  int64_t num_params = 0;
  int64_t raw_payload_bytes = 0;  // sum of stored_bytes
  int64_t serialized_bytes = 0;   // torch.save bytes before compression
  int64_t compressed_bytes = 0;   // the file size (model bytes of the budget)
  double prune_seconds = 0, quantize_seconds = 0, compress_seconds = 0, total_seconds = 0;
  SelectivePruneReport selective;  // TARGET_MB (gptq); target_bytes 0 when off
  double selective_seconds = 0;
};

struct ExportOptions {
  int threads = 0;  // zstd workers; 0 = single-threaded
  // When set, receives the pruned state dict (the template the reference dequantises against).
  core::NamedTensors* pruned_out = nullptr;
  // QUANT_SCHEME=gptq: the calibration Hessians by (unbanked) weight name; required there.
  const core::NamedTensors* hessians = nullptr;
  // TARGET_MB: the code bytes counted with the artifact against the target.
  int64_t code_bytes = 0;
};

// Prunes (PRUNE_PCT > 0), quantises by QUANT_SCHEME, serialises and compresses `state_dict`, and
// writes the artifact atomically to `out_path`. `state_dict` itself is not modified. The gptq
// scheme quantises the unbanked state dict (gptq_mixed.h) and reports its per-layer tensors.
ExportReport export_artifact(const core::NamedTensors& state_dict, const config::QuantConfig& cfg,
                             const std::string& out_path, const ExportOptions& opts = {});

// Reads `path` and dequantises it against `template_sd` (names, shapes, dtypes); a gptq artifact
// of a banked template is dequantised per layer and rebanked.
core::NamedTensors load_artifact(const std::string& path, const core::NamedTensors& template_sd);

// Human summary lines: per-kind tensor counts and bytes, prune stats, sizes and timings.
std::vector<std::string> report_lines(const ExportReport& report);

}  // namespace pgolf::quant
