// The report's charts for one or more runs: losses and val bpb against step and wallclock, the
// LR multiplier and Muon momentum, tokens/s (SWA window shaded on each), the final scores and the
// artifact bytes against the 16,000,000-byte cap. Shared by `pgolf report` (inline in one HTML page)
// and the end of `pgolf train` (standalone .svg files in the run directory).
#pragma once

#include <string>
#include <vector>

#include "pgolf/report/run_data.h"

namespace pgolf::report {

struct NamedChart {
  std::string id;     // file stem / data-chart attribute, e.g. "val_bpb_step"
  std::string title;
  std::string svg;    // a complete <svg> element
};

std::vector<NamedChart> build_charts(const std::vector<RunData>& runs);

// Bucket means down to at most `max_points` points (x and y averaged per bucket; non-finite y
// skipped), so 20,000-step runs stay small; shorter series are returned unchanged.
void downsample(std::vector<double>& xs, std::vector<double>& ys, size_t max_points);

// Writes <run_dir>/charts/<id>.svg and <run_dir>/report.html for the run in `run_dir`; returns the
// files written.
std::vector<std::string> write_run_charts(const std::string& run_dir);

}  // namespace pgolf::report
