// OrderedDict pickles rewritten as plain dicts (see pickle_compat.h). The rewrite walks the
// opcodes with a symbolic stack: it knows which entries are the OrderedDict class, its empty
// argument tuple or a dict built from them, where each entry's bytes begin in the output, and
// which memo slots hold what, so that it can leave the class out, emit EMPTY_DICT for the call
// and cut a BUILD state's bytes out again.
#include "pgolf/core/pickle_compat.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "pgolf/core/error.h"

namespace pgolf::core {
namespace {

enum class Tag : unsigned char {
  kMark,
  kValue,
  kODictClass,  // deferred: nothing emitted
  kODictArgs,   // deferred: the empty tuple that follows the class, nothing emitted
  kODict,       // the EMPTY_DICT emitted for OrderedDict()
  kDropped,     // memo only: defined inside a BUILD state that was cut out
};

struct Item {
  Tag tag;
  size_t out_begin;  // where the bytes that build this entry start in the output
};

bool deferred(Tag t) { return t == Tag::kODictClass || t == Tag::kODictArgs; }

uint64_t little_endian(const char* p, int bytes) {
  uint64_t v = 0;
  for (int b = bytes - 1; b >= 0; --b) v = (v << 8) | static_cast<unsigned char>(p[b]);
  return v;
}

class Rewriter {
 public:
  Rewriter(const char* p, size_t n, const std::string& what) : p_(p), n_(n), what_(what) {}

  std::string run() {
    while (i_ < n_) {
      const size_t at = i_;
      const auto op = static_cast<unsigned char>(p_[i_++]);
      const size_t arg = arg_length(op);
      i_ += arg;
      if (op == '.') {
        out_.append(p_ + at, 1 + arg);
        return out_;
      }
      step(op, at, arg);
    }
    fail("no STOP opcode");
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    PGOLF_FAIL_INPUT(what_ << ": cannot read this pickle (" << why << ", at offset " << i_ << ")");
  }

  size_t line_end(size_t from) const {
    const void* nl = std::memchr(p_ + from, '\n', n_ - from);
    if (nl == nullptr) fail("unterminated line");
    return static_cast<size_t>(static_cast<const char*>(nl) - p_) + 1;
  }

  // Bytes of the argument of `op`, which starts at i_; bounds-checked.
  size_t arg_length(unsigned char op) const {
    const auto fixed = [&](size_t k) {
      if (k > n_ - i_) fail("an argument runs past the end");
      return k;
    };
    const auto counted = [&](int width) {
      const size_t k = fixed(static_cast<size_t>(width));
      const uint64_t len = little_endian(p_ + i_, width);
      if (len > n_ - i_ - k) fail("an argument runs past the end");
      return k + static_cast<size_t>(len);
    };
    switch (op) {
      case 'p': case 'g': case 'F': case 'I': case 'L': case 'P': case 'S': case 'V':
        return line_end(i_) - i_;
      case 'c': case 'i': return line_end(line_end(i_)) - i_;
      case 'K': case 0x80: case 0x82: case 'h': case 'q': return fixed(1);
      case 'M': case 0x83: return fixed(2);
      case 'J': case 0x84: case 'j': case 'r': return fixed(4);
      case 'G': case 0x95: return fixed(8);
      case 'U': case 'C': case 0x8a: case 0x8c: return counted(1);
      case 'T': case 'X': case 'B': case 0x8b: return counted(4);
      case 0x8d: case 0x8e: case 0x96: return counted(8);
      default: return 0;
    }
  }

  Item pop() {
    if (stack_.empty() || stack_.back().tag == Tag::kMark) fail("stack underflow");
    Item it = stack_.back();
    stack_.pop_back();
    return it;
  }

  // Pops the entries above the last MARK and the mark; returns where the mark's bytes begin.
  size_t pop_to_mark() {
    while (!stack_.empty() && stack_.back().tag != Tag::kMark) {
      if (deferred(stack_.back().tag)) fail("collections.OrderedDict used as a value");
      stack_.pop_back();
    }
    if (stack_.empty()) fail("no MARK");
    const size_t begin = stack_.back().out_begin;
    stack_.pop_back();
    return begin;
  }

  // Pops `k` entries (none of them deferred) and pushes one value built from them.
  void reduce_values(int k, size_t at, size_t arg, bool push = true) {
    size_t begin = out_.size();
    for (int j = 0; j < k; ++j) {
      const Item it = pop();
      if (deferred(it.tag)) fail("collections.OrderedDict used as a value");
      begin = it.out_begin;
    }
    out_.append(p_ + at, 1 + arg);
    if (push) stack_.push_back({Tag::kValue, begin});
  }

  uint64_t memo_index(unsigned char op, size_t at, size_t arg) const {
    if (op == 'p' || op == 'g')  // decimal on its line
      return std::strtoull(std::string(p_ + at + 1, arg - 1).c_str(), nullptr, 10);
    return little_endian(p_ + at + 1, static_cast<int>(arg));
  }

  void put(uint64_t id, size_t at, size_t arg) {
    if (stack_.empty() || stack_.back().tag == Tag::kMark) fail("memo PUT on an empty stack");
    const Tag tag = stack_.back().tag;
    memo_[id] = {tag, out_.size()};
    memo_order_.push_back(id);
    if (!deferred(tag)) out_.append(p_ + at, 1 + arg);
  }

  void get(uint64_t id, size_t at, size_t arg) {
    const auto it = memo_.find(id);
    const Tag tag = it == memo_.end() ? Tag::kValue : it->second.tag;
    if (tag == Tag::kDropped)
      fail("memo entry " + std::to_string(id) + " lies inside a dropped BUILD state");
    stack_.push_back({tag, out_.size()});
    if (!deferred(tag)) out_.append(p_ + at, 1 + arg);
  }

  void reduce(size_t at, size_t arg) {
    const Item args = pop();
    const Item callable = pop();
    if (callable.tag == Tag::kODictClass) {
      if (args.tag != Tag::kODictArgs) fail("collections.OrderedDict called with arguments");
      stack_.push_back({Tag::kODict, out_.size()});
      out_.push_back('}');  // EMPTY_DICT
      return;
    }
    if (deferred(args.tag)) fail("collections.OrderedDict used as a value");
    out_.append(p_ + at, 1 + arg);
    stack_.push_back({Tag::kValue, callable.out_begin});
  }

  // BUILD on an OrderedDict sets its attributes (`_metadata`): cut the state's bytes out.
  void build(size_t at, size_t arg) {
    if (stack_.size() < 2 || stack_[stack_.size() - 2].tag != Tag::kODict) {
      reduce_values(2, at, arg);
      return;
    }
    const Item state = pop();
    if (deferred(state.tag)) fail("collections.OrderedDict used as a value");
    out_.resize(state.out_begin);
    // The memo slots put inside the cut bytes are the latest ones: each is dropped once.
    while (!memo_order_.empty() && memo_[memo_order_.back()].out_begin >= state.out_begin) {
      memo_[memo_order_.back()].tag = Tag::kDropped;
      memo_order_.pop_back();
    }
  }

  void step(unsigned char op, size_t at, size_t arg);

  const char* p_;
  size_t n_;
  const std::string& what_;
  size_t i_ = 0;
  std::string out_;
  std::vector<Item> stack_;
  std::unordered_map<uint64_t, Item> memo_;  // tag and the output offset of the PUT
  std::vector<uint64_t> memo_order_;         // memo ids in the order of their PUTs
  uint64_t next_memo_ = 0;                   // MEMOIZE's implicit index
};

void Rewriter::step(unsigned char op, size_t at, size_t arg) {
  const auto copy = [&] { out_.append(p_ + at, 1 + arg); };
  switch (op) {
    case 0x80:  // PROTO
      if (static_cast<unsigned char>(p_[at + 1]) != 2)
        PGOLF_FAIL_INPUT(what_ << ": pickle protocol " << int{static_cast<unsigned char>(p_[at + 1])}
                               << "; LibTorch reads protocol 2, torch.save's default: re-save it "
                               << "in Python without pickle_protocol");
      copy();
      return;
    case 0x95: return;           // FRAME: a read-ahead hint; lengths change here, so drop it
    case '(': stack_.push_back({Tag::kMark, out_.size()}); copy(); return;
    case ')': {
      const bool odict = !stack_.empty() && stack_.back().tag == Tag::kODictClass;
      stack_.push_back({odict ? Tag::kODictArgs : Tag::kValue, out_.size()});
      if (!odict) copy();
      return;
    }
    case 'c': {
      const std::string global(p_ + at + 1, arg);
      const bool odict = global == "collections\nOrderedDict\n";
      stack_.push_back({odict ? Tag::kODictClass : Tag::kValue, out_.size()});
      if (!odict) copy();
      return;
    }
    case 'p': case 'q': case 'r': put(memo_index(op, at, arg), at, arg); return;
    case 0x94: put(next_memo_++, at, arg); return;  // MEMOIZE
    case 'g': case 'h': case 'j': get(memo_index(op, at, arg), at, arg); return;
    case 'R': reduce(at, arg); return;
    case 'b': build(at, arg); return;
    case 't': case 'l': case 'd': case 'o': case 'i': case 0x91: {
      const size_t begin = pop_to_mark();
      copy();
      stack_.push_back({Tag::kValue, begin});
      return;
    }
    case 'e': case 'u': case 0x90: case '1': pop_to_mark(); copy(); return;
    case 0x81: case 0x86: case 0x93: reduce_values(2, at, arg); return;
    case 0x92: case 0x87: reduce_values(3, at, arg); return;
    case 'Q': case 0x85: case 0x98: reduce_values(1, at, arg); return;
    case 'a': case '0': reduce_values(1, at, arg, /*push=*/false); return;
    case 's': reduce_values(2, at, arg, /*push=*/false); return;
    case '2': {
      if (stack_.empty() || deferred(stack_.back().tag)) fail("DUP of nothing usable");
      stack_.push_back({stack_.back().tag, out_.size()});
      copy();
      return;
    }
    case 'N': case 0x88: case 0x89: case 'K': case 'M': case 'J': case 'I': case 'L': case 'F':
    case 'G': case 'S': case 'T': case 'U': case 'X': case 'V': case 'B': case 'C': case 0x8a:
    case 0x8b: case 0x8c: case 0x8d: case 0x8e: case 0x96: case 'P': case ']': case '}':
    case 0x8f: case 0x97: case 0x82: case 0x83: case 0x84:
      stack_.push_back({Tag::kValue, out_.size()});
      copy();
      return;
    default: {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "0x%02x", op);
      fail(std::string("unknown opcode ") + hex);
    }
  }
}

}  // namespace

std::string plain_dict_pickle(const char* p, size_t n, const std::string& what) {
  return Rewriter(p, n, what).run();
}

}  // namespace pgolf::core
