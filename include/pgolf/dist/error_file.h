// torchrun's error-file contract (torch.distributed.elastic.multiprocessing.errors): the launcher
// gives every rank a file in TORCHELASTIC_ERROR_FILE; a failing rank writes its message and the
// time of its failure there, and the launcher reports the failure with the earliest time as the
// cause of the run's end (its peers fail later, of the broken connections).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace pgolf::dist {

struct RankError {
  std::string message;
  int64_t time_ns = 0;  // wall clock, ns since the epoch
};

// Writes {"message": {"message": ..., "extraInfo": {"timestamp": "<s>", "timestamp_ns": "<ns>"}}}
// (torchrun's format plus a finer time) to $TORCHELASTIC_ERROR_FILE; nothing when it is unset.
// The time is failure_time_ns() (comm.h) when set, else now. Never throws.
void write_error_file(const std::string& message);

// The file written by write_error_file (or by a Python rank under torchrun); nullopt when it is
// absent or unreadable.
std::optional<RankError> read_error_file(const std::string& path);

}  // namespace pgolf::dist
