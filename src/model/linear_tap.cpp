// Calibration taps (see linear_tap.h).
#include "pgolf/model/linear_tap.h"

namespace pgolf::model {
namespace {
thread_local LinearInputSink* g_sink = nullptr;
}  // namespace

LinearInputSink* linear_tap() { return g_sink; }

ScopedLinearTap::ScopedLinearTap(LinearInputSink* sink) : previous_(g_sink) { g_sink = sink; }
ScopedLinearTap::~ScopedLinearTap() { g_sink = previous_; }

std::string layer_weight_name(int64_t layer, const char* suffix) {
  return "blocks." + std::to_string(layer) + "." + suffix;
}

}  // namespace pgolf::model
