// Structural and CRC-32 check of a torch.save zip archive before unpickling. LibTorch's reader
// does not verify the per-record CRCs, so without this a bit flip inside an artifact whose zstd
// frame has no checksum (the reference's frames) would load silently as different weights.
#pragma once

#include <string>
#include <vector>

namespace pgolf::quant {

// Walks the end-of-central-directory record (zip64 aware), every central-directory entry and its
// local header; checks bounds and, for stored entries, the CRC-32 of the data (a stored CRC of 0
// means "not computed" by torch's compute_crc32=False and is skipped). Input error naming `what`
// and the record on any mismatch.
void verify_torch_zip(const std::vector<char>& bytes, const std::string& what);

}  // namespace pgolf::quant
