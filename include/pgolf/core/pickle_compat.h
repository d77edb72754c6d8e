// Python state dicts for LibTorch's Unpickler. torch.save(module.state_dict()) pickles a
// collections.OrderedDict with a `_metadata` attribute; LibTorch's Unpickler turns every
// OrderedDict into None (it expects one only as a tensor's empty backward-hook table) and cannot
// apply the BUILD that sets the attribute, so such a file fails to load ("Expected GenericDict but
// got None"). This rewrites the pickle into the plain-dict form LibTorch reads.
#pragma once

#include <cstddef>
#include <string>

namespace pgolf::core {

// The pickle p[0, n) with every `collections.OrderedDict()` (GLOBAL or memo GET of the class,
// EMPTY_TUPLE, REDUCE) replaced by EMPTY_DICT and the BUILD state of such a dict (`_metadata`, the
// modules' version numbers, which pgolf does not use) dropped; every other opcode is copied
// unchanged, so a pickle without OrderedDicts comes back byte for byte. Protocol 2, the one
// torch.save writes by default and the only one LibTorch reads. Input error naming `what` when
// the pickle is malformed or uses an OrderedDict in a way a plain dict cannot express.
std::string plain_dict_pickle(const char* p, size_t n, const std::string& what);

}  // namespace pgolf::core
