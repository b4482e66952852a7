#include "llm/tokenizer/split_regex.h"

#include <unicode/uchar.h>
#include <unicode/uscript.h>

#include <algorithm>
#include <deque>
#include <utility>

#include "base/error.h"
#include "llm/tokenizer/unicode.h"

namespace vigil::tok {
namespace {

constexpr int kMaxRepeat = 1000;                  // largest {n,m} bound accepted
constexpr size_t kMaxInstructions = 1 << 16;      // per program
constexpr size_t kMaxMemoBits = size_t{1} << 27;  // 16 MiB of visited-state bits per split call
constexpr int kMaxNesting = 200;                  // groups inside groups

enum class Op : uint8_t {
  kChar,       // a = code point (case folded when flag)
  kClass,      // a = class index
  kAny,        // flag = also matches '\n'
  kSplit,      // try a, then b
  kJmp,        // a = target
  kTextStart,  // ^ \A
  kTextEnd,    // $ \z
  kTextEndNl,  // \Z: end, or before a final '\n'
  kLook,       // a = program index of the body, flag = negative
  kMatch,
};

struct Inst {
  Op op = Op::kMatch;
  bool flag = false;
  uint32_t a = 0;
  uint32_t b = 0;
};

struct ClassItem {
  enum Kind : uint8_t { kCategoryMask, kScript, kWhitespace };
  Kind kind = kCategoryMask;
  bool negated = false;
  uint32_t value = 0;  // U_GC_*_MASK bits or UScriptCode

  bool matches(uint32_t c) const {
    const auto uc = static_cast<UChar32>(c);
    bool hit = false;
    switch (kind) {
      case kCategoryMask:
        hit = (U_GET_GC_MASK(uc) & value) != 0;
        break;
      case kScript: {
        UErrorCode status = U_ZERO_ERROR;
        hit = uscript_getScript(uc, &status) == static_cast<UScriptCode>(value);
        break;
      }
      case kWhitespace:
        hit = is_whitespace(c);
        break;
    }
    return hit != negated;
  }
};

struct CharClass {
  bool negated = false;
  bool icase = false;
  std::vector<std::pair<uint32_t, uint32_t>> ranges;  // sorted, disjoint after finish()
  std::vector<ClassItem> items;

  void finish() {
    std::sort(ranges.begin(), ranges.end());
    std::vector<std::pair<uint32_t, uint32_t>> merged;
    for (const auto& r : ranges) {
      if (!merged.empty() && r.first <= merged.back().second + 1) {
        merged.back().second = std::max(merged.back().second, r.second);
      } else {
        merged.push_back(r);
      }
    }
    ranges = std::move(merged);
  }

  bool matches_exact(uint32_t c) const {
    auto it = std::upper_bound(ranges.begin(), ranges.end(), std::make_pair(c, UINT32_MAX));
    if (it != ranges.begin() && std::prev(it)->second >= c) return true;
    for (const auto& item : items) {
      if (item.matches(c)) return true;
    }
    return false;
  }

  bool matches(uint32_t c) const {
    if (c > 0x10FFFF) return negated;
    bool hit = matches_exact(c);
    if (!hit && icase) {
      const auto uc = static_cast<UChar32>(c);
      for (UChar32 v :
           {u_tolower(uc), u_toupper(uc), u_totitle(uc), u_foldCase(uc, U_FOLD_CASE_DEFAULT)}) {
        if (v != uc && matches_exact(static_cast<uint32_t>(v))) {
          hit = true;
          break;
        }
      }
    }
    return hit != negated;
  }
};

uint32_t fold(uint32_t c) {
  return c > 0x10FFFF
             ? c
             : static_cast<uint32_t>(u_foldCase(static_cast<UChar32>(c), U_FOLD_CASE_DEFAULT));
}

struct Node {
  enum Kind { kEmpty, kChar, kClass, kAny, kConcat, kAlt, kRepeat, kAssert, kLook };
  Kind kind = kEmpty;
  uint32_t value = 0;  // kChar: code point; kClass: class index; kAssert: Op
  bool flag = false;   // kChar: icase; kAny: dotall; kLook: negative
  int min = 0;
  int max = 0;  // -1: unbounded
  bool greedy = true;
  std::vector<Node> kids;
};

struct Flags {
  bool icase = false;
  bool dotall = false;
};

class Parser {
 public:
  explicit Parser(std::string_view pattern) : pattern_(pattern) {
    size_t pos = 0;
    while (pos < pattern.size()) {
      const size_t before = pos;
      const uint32_t c = decode_utf8(pattern, pos);
      if (c == kReplacementChar && pattern.substr(before, pos - before) != "\xEF\xBF\xBD") {
        error("invalid UTF-8");
      }
      cps_.push_back(c);
    }
  }

  Node parse(std::vector<CharClass>& classes) {
    classes_ = &classes;
    Flags flags;
    Node root = parse_alternation(flags, 0);
    if (pos_ < cps_.size()) error("unbalanced ')'");
    return root;
  }

 private:
  [[noreturn]] void error(std::string_view what) const {
    fail("tokenizer pre-tokenizer regex '{}': {} at character {}", printable(pattern_, 120), what,
         pos_);
  }
  bool at_end() const { return pos_ >= cps_.size(); }
  uint32_t peek(size_t ahead = 0) const {
    return pos_ + ahead < cps_.size() ? cps_[pos_ + ahead] : UINT32_MAX;
  }
  uint32_t next() {
    if (at_end()) error("unexpected end of pattern");
    return cps_[pos_++];
  }
  bool accept(uint32_t c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }

  Node parse_alternation(Flags& flags, int depth) {
    if (depth > kMaxNesting) error("groups nested too deeply");
    std::vector<Node> alternatives;
    alternatives.push_back(parse_sequence(flags, depth));
    while (accept('|')) alternatives.push_back(parse_sequence(flags, depth));
    if (alternatives.size() == 1) return std::move(alternatives[0]);
    Node alt;
    alt.kind = Node::kAlt;
    alt.kids = std::move(alternatives);
    return alt;
  }

  Node parse_sequence(Flags& flags, int depth) {
    Node seq;
    seq.kind = Node::kConcat;
    while (!at_end() && peek() != '|' && peek() != ')') {
      // An inline flag group "(?i)" changes the flags for the rest of the enclosing group.
      if (peek() == '(' && peek(1) == '?' && parse_inline_flags(flags)) continue;
      Node atom = parse_atom(flags, depth);
      seq.kids.push_back(parse_quantifiers(std::move(atom)));
    }
    if (seq.kids.size() == 1) return std::move(seq.kids[0]);
    if (seq.kids.empty()) return Node{};
    return seq;
  }

  // Parses "(?flags)" at the cursor; returns false (cursor unchanged) for other "(?" groups.
  bool parse_inline_flags(Flags& flags) {
    size_t p = pos_ + 2;
    Flags f = flags;
    bool on = true;
    while (p < cps_.size()) {
      const uint32_t c = cps_[p];
      if (c == ')') {
        pos_ = p + 1;
        flags = f;
        return true;
      }
      if (c == '-') {
        on = false;
      } else if (c == 'i') {
        f.icase = on;
      } else if (c == 's') {
        f.dotall = on;
      } else {
        return false;
      }
      ++p;
    }
    return false;
  }

  Node parse_quantifiers(Node atom) {
    int min = 0;
    int max = 0;
    const size_t start = pos_;
    if (accept('*')) {
      min = 0;
      max = -1;
    } else if (accept('+')) {
      min = 1;
      max = -1;
    } else if (accept('?')) {
      min = 0;
      max = 1;
    } else if (peek() == '{' && parse_braces(min, max)) {
    } else {
      return atom;
    }
    if (atom.kind == Node::kAssert || atom.kind == Node::kLook || atom.kind == Node::kEmpty) {
      pos_ = start;
      error("quantifier after an assertion or empty group");
    }
    Node rep;
    rep.kind = Node::kRepeat;
    rep.min = min;
    rep.max = max;
    if (accept('?')) {
      rep.greedy = false;
    } else if (peek() == '+') {
      error("possessive quantifiers are not supported");
    }
    if (peek() == '*' || peek() == '+' || peek() == '?') error("nested quantifier");
    rep.kids.push_back(std::move(atom));
    return rep;
  }

  // "{n}", "{n,}", "{n,m}"; returns false (cursor unchanged) when '{' starts no quantifier, in
  // which case it is a literal, as in PCRE and Oniguruma.
  bool parse_braces(int& min, int& max) {
    size_t p = pos_ + 1;
    auto number = [&](int& out) {
      size_t digits = 0;
      int64_t v = 0;
      while (p < cps_.size() && cps_[p] >= '0' && cps_[p] <= '9') {
        v = v * 10 + (cps_[p] - '0');
        if (v > kMaxRepeat) error("repeat count above 1000");
        ++p;
        ++digits;
      }
      out = static_cast<int>(v);
      return digits > 0;
    };
    if (!number(min)) return false;
    if (p < cps_.size() && cps_[p] == '}') {
      max = min;
    } else if (p < cps_.size() && cps_[p] == ',') {
      ++p;
      if (p < cps_.size() && cps_[p] == '}') {
        max = -1;
      } else if (!number(max) || p >= cps_.size() || cps_[p] != '}') {
        return false;
      }
    } else {
      return false;
    }
    if (max != -1 && max < min) error("{n,m} with m < n");
    pos_ = p + 1;
    return true;
  }

  Node literal(uint32_t c, const Flags& flags) {
    Node n;
    n.kind = Node::kChar;
    n.flag = flags.icase;
    n.value = flags.icase ? fold(c) : c;
    return n;
  }

  Node class_node(CharClass cls) {
    cls.finish();
    classes_->push_back(std::move(cls));
    Node n;
    n.kind = Node::kClass;
    n.value = static_cast<uint32_t>(classes_->size() - 1);
    return n;
  }

  Node assertion(Op op) {
    Node n;
    n.kind = Node::kAssert;
    n.value = static_cast<uint32_t>(op);
    return n;
  }

  Node parse_atom(Flags& flags, int depth) {
    const uint32_t c = next();
    switch (c) {
      case '(':
        return parse_group(flags, depth);
      case '[':
        return parse_class(flags);
      case '.': {
        Node n;
        n.kind = Node::kAny;
        n.flag = flags.dotall;
        return n;
      }
      case '^':
        return assertion(Op::kTextStart);
      case '$':
        return assertion(Op::kTextEnd);
      case '*':
      case '+':
      case '?':
        --pos_;
        error("nothing to repeat");
      case '\\':
        return parse_escape(flags);
      default:
        return literal(c, flags);
    }
  }

  Node parse_group(Flags& outer, int depth) {
    Flags flags = outer;
    bool look = false;
    bool negative = false;
    if (accept('?')) {
      const uint32_t c = next();
      if (c == ':') {
      } else if (c == '=' || c == '!') {
        look = true;
        negative = c == '!';
      } else if (c == 'i' || c == 's' || c == '-') {
        bool on = true;
        --pos_;
        while (true) {
          const uint32_t f = next();
          if (f == ':') break;
          if (f == '-') {
            on = false;
          } else if (f == 'i') {
            flags.icase = on;
          } else if (f == 's') {
            flags.dotall = on;
          } else {
            --pos_;
            error("unsupported group flag");
          }
        }
      } else {
        --pos_;
        error("unsupported group kind (only (?:, (?=, (?!, (?i: are supported)");
      }
    } else if (peek() == '?') {
      error("unsupported group");
    }
    Node body = parse_alternation(flags, depth + 1);
    if (!accept(')')) error("missing ')'");
    if (!look) return body;
    Node n;
    n.kind = Node::kLook;
    n.flag = negative;
    n.kids.push_back(std::move(body));
    return n;
  }

  static uint32_t hex_digit(uint32_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return UINT32_MAX;
  }

  uint32_t parse_hex(size_t digits) {
    uint32_t v = 0;
    for (size_t i = 0; i < digits; ++i) {
      const uint32_t d = hex_digit(next());
      if (d == UINT32_MAX) error("bad hex escape");
      v = v * 16 + d;
    }
    return v;
  }

  // Escapes that stand for one code point; UINT32_MAX if `c` is not one of them.
  uint32_t char_escape(uint32_t c) {
    switch (c) {
      case 't':
        return '\t';
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 'f':
        return '\f';
      case 'v':
        return '\v';
      case 'a':
        return 7;
      case 'e':
        return 27;
      case '0':
        return 0;
      case 'x':
        if (accept('{')) {
          uint32_t v = 0;
          size_t n = 0;
          while (!accept('}')) {
            const uint32_t d = hex_digit(next());
            if (d == UINT32_MAX || ++n > 6) error("bad \\x{...} escape");
            v = v * 16 + d;
          }
          if (n == 0 || v > 0x10FFFF) error("bad \\x{...} escape");
          return v;
        }
        return parse_hex(2);
      case 'u':
        return parse_hex(4);
      default:
        break;
    }
    if (c >= 0x80 ||
        !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
      return c;  // escaped punctuation or non-ASCII: the character itself
    }
    return UINT32_MAX;
  }

  // Class escapes (\d \s \w \p{..} and their negations) as class items; false if `c` is not one.
  bool class_escape(uint32_t c, std::vector<ClassItem>& items) {
    switch (c) {
      case 'd':
      case 'D':
        items.push_back({ClassItem::kCategoryMask, c == 'D', U_GC_ND_MASK});
        return true;
      case 'w':
      case 'W':
        items.push_back({ClassItem::kCategoryMask, c == 'W',
                         U_GC_L_MASK | U_GC_M_MASK | U_GC_ND_MASK | U_GC_PC_MASK});
        return true;
      case 's':
      case 'S':
        items.push_back({ClassItem::kWhitespace, c == 'S', 0});
        return true;
      case 'p':
      case 'P':
        items.push_back(parse_property(c == 'P'));
        return true;
      default:
        return false;
    }
  }

  ClassItem parse_property(bool negated) {
    std::string name;
    if (accept('{')) {
      if (accept('^')) negated = !negated;
      while (!accept('}')) {
        const uint32_t c = next();
        if (c >= 0x80 || name.size() > 64) error("bad property name");
        name += static_cast<char>(c);
      }
    } else {
      const uint32_t c = next();
      if (c >= 0x80) error("bad property name");
      name += static_cast<char>(c);
    }
    if (name == "Any")
      return {ClassItem::kCategoryMask, negated,
              U_GC_C_MASK | U_GC_L_MASK | U_GC_M_MASK | U_GC_N_MASK | U_GC_P_MASK | U_GC_S_MASK |
                  U_GC_Z_MASK};
    const int32_t mask = u_getPropertyValueEnum(UCHAR_GENERAL_CATEGORY_MASK, name.c_str());
    if (mask != UCHAR_INVALID_CODE) {
      return {ClassItem::kCategoryMask, negated, static_cast<uint32_t>(mask)};
    }
    const int32_t script = u_getPropertyValueEnum(UCHAR_SCRIPT, name.c_str());
    if (script != UCHAR_INVALID_CODE) {
      return {ClassItem::kScript, negated, static_cast<uint32_t>(script)};
    }
    error("unknown Unicode property '" + name + "'");
  }

  Node parse_escape(const Flags& flags) {
    const uint32_t c = next();
    switch (c) {
      case 'A':
        return assertion(Op::kTextStart);
      case 'z':
        return assertion(Op::kTextEnd);
      case 'Z':
        return assertion(Op::kTextEndNl);
      default:
        break;
    }
    CharClass cls;
    if (class_escape(c, cls.items)) {
      cls.icase = false;
      return class_node(std::move(cls));
    }
    const uint32_t lit = char_escape(c);
    if (lit == UINT32_MAX) {
      --pos_;
      error("unsupported escape");
    }
    return literal(lit, flags);
  }

  Node parse_class(const Flags& flags) {
    CharClass cls;
    cls.icase = flags.icase;
    cls.negated = accept('^');
    bool first = true;
    while (true) {
      uint32_t c = next();
      if (c == ']' && !first) break;
      first = false;
      if (c == '[') error("nested classes are not supported");
      if (c == '&' && peek() == '&') error("class intersection is not supported");
      uint32_t lo = c;
      if (c == '\\') {
        const uint32_t e = next();
        if (class_escape(e, cls.items)) continue;
        lo = e == 'b' ? 8 : char_escape(e);
        if (lo == UINT32_MAX) {
          --pos_;
          error("unsupported escape in class");
        }
      }
      uint32_t hi = lo;
      if (peek() == '-' && peek(1) != ']' && peek(1) != UINT32_MAX) {
        ++pos_;
        hi = next();
        if (hi == '\\') {
          const uint32_t e = next();
          hi = e == 'b' ? 8 : char_escape(e);
          if (hi == UINT32_MAX) error("bad range end in class");
        } else if (hi == '[') {
          error("bad range end in class");
        }
        if (hi < lo) error("range out of order in class");
      }
      cls.ranges.emplace_back(lo, hi);
    }
    return class_node(std::move(cls));
  }

  std::string_view pattern_;
  std::vector<uint32_t> cps_;
  size_t pos_ = 0;
  std::vector<CharClass>* classes_ = nullptr;
};

bool nullable(const Node& n) {
  switch (n.kind) {
    case Node::kEmpty:
    case Node::kAssert:
    case Node::kLook:
      return true;
    case Node::kChar:
    case Node::kClass:
    case Node::kAny:
      return false;
    case Node::kConcat:
      return std::all_of(n.kids.begin(), n.kids.end(), nullable);
    case Node::kAlt:
      return std::any_of(n.kids.begin(), n.kids.end(), nullable);
    case Node::kRepeat:
      return n.min == 0 || nullable(n.kids[0]);
  }
  return true;
}

}  // namespace

struct SplitRegex::Program {
  std::string pattern;
  std::vector<std::vector<Inst>> code;  // [0] = main program, others = lookahead bodies
  std::vector<CharClass> classes;
};

namespace {

class Compiler {
 public:
  Compiler(SplitRegex::Program& prog, std::string_view pattern) : prog_(prog), pattern_(pattern) {}

  size_t compile_program(const Node& root) {
    const size_t index = prog_.code.size();
    prog_.code.emplace_back();
    std::vector<Inst> code;
    emit(root, code);
    code.push_back({Op::kMatch});
    prog_.code[index] = std::move(code);
    return index;
  }

 private:
  void check_size(const std::vector<Inst>& code) const {
    if (code.size() > kMaxInstructions) {
      fail("tokenizer pre-tokenizer regex '{}': pattern too large", printable(pattern_, 120));
    }
  }

  void emit(const Node& n, std::vector<Inst>& code) {
    check_size(code);
    switch (n.kind) {
      case Node::kEmpty:
        break;
      case Node::kChar:
        code.push_back({Op::kChar, n.flag, n.value});
        break;
      case Node::kClass:
        code.push_back({Op::kClass, false, n.value});
        break;
      case Node::kAny:
        code.push_back({Op::kAny, n.flag});
        break;
      case Node::kAssert:
        code.push_back({static_cast<Op>(n.value)});
        break;
      case Node::kConcat:
        for (const auto& kid : n.kids) emit(kid, code);
        break;
      case Node::kAlt: {
        std::vector<size_t> jumps;
        for (size_t i = 0; i < n.kids.size(); ++i) {
          if (i + 1 < n.kids.size()) {
            const size_t split = code.size();
            code.push_back({Op::kSplit, false, static_cast<uint32_t>(split + 1)});
            emit(n.kids[i], code);
            jumps.push_back(code.size());
            code.push_back({Op::kJmp});
            code[split].b = static_cast<uint32_t>(code.size());
          } else {
            emit(n.kids[i], code);
          }
        }
        for (size_t j : jumps) code[j].a = static_cast<uint32_t>(code.size());
        break;
      }
      case Node::kRepeat: {
        const Node& body = n.kids[0];
        if (n.max == -1 && nullable(body)) {
          fail(
              "tokenizer pre-tokenizer regex '{}': unbounded repeat of a group that can match "
              "the empty string",
              printable(pattern_, 120));
        }
        for (int i = 0; i < n.min; ++i) emit(body, code);
        if (n.max == -1) {
          const size_t loop = code.size();
          code.push_back({Op::kSplit});
          emit(body, code);
          code.push_back({Op::kJmp, false, static_cast<uint32_t>(loop)});
          set_split(code[loop], loop + 1, code.size(), n.greedy);
        } else {
          std::vector<size_t> splits;
          for (int i = n.min; i < n.max; ++i) {
            splits.push_back(code.size());
            code.push_back({Op::kSplit});
            emit(body, code);
          }
          for (size_t s : splits) set_split(code[s], s + 1, code.size(), n.greedy);
        }
        break;
      }
      case Node::kLook: {
        const size_t index = compile_program(n.kids[0]);
        code.push_back({Op::kLook, n.flag, static_cast<uint32_t>(index)});
        break;
      }
    }
    check_size(code);
  }

  static void set_split(Inst& inst, size_t body, size_t out, bool greedy) {
    inst.op = Op::kSplit;
    inst.a = static_cast<uint32_t>(greedy ? body : out);
    inst.b = static_cast<uint32_t>(greedy ? out : body);
  }

  SplitRegex::Program& prog_;
  std::string_view pattern_;
};

// One split call: matches the program at successive start positions of one piece of text.
class Matcher {
 public:
  Matcher(const SplitRegex::Program& prog, std::span<const uint32_t> text)
      : prog_(prog), text_(text), look_cache_(prog.code.size()) {
    const size_t width = prog.code[0].size();
    if (width * (text.size() + 1) <= kMaxMemoBits) {
      memo_width_ = width;
      visited_.assign((width * (text.size() + 1) + 63) / 64, 0);
    }
  }

  // End of the match of the main program starting at `start`, or -1.
  int64_t match_main(size_t start) { return run(0, start, true); }

  // Forgets the visited states at `pos`: states there may lie on the path of a successful match,
  // which must not be mistaken for failures by the next attempt that starts at `pos`.
  void forget_position(size_t pos) {
    if (memo_width_ == 0) return;
    for (size_t pc = 0; pc < memo_width_; ++pc) {
      const size_t bit = pos * memo_width_ + pc;
      visited_[bit / 64] &= ~(uint64_t{1} << (bit % 64));
    }
  }

 private:
  bool test_and_set(size_t pc, size_t pos) {
    const size_t bit = pos * memo_width_ + pc;
    uint64_t& word = visited_[bit / 64];
    const uint64_t mask = uint64_t{1} << (bit % 64);
    if (word & mask) return true;
    word |= mask;
    return false;
  }

  bool look(size_t index, size_t pos) {
    auto& cache = look_cache_[index];
    if (cache.empty()) cache.assign(text_.size() + 1, -1);
    if (cache[pos] < 0) cache[pos] = run(index, pos, false) >= 0 ? 1 : 0;
    return cache[pos] == 1;
  }

  // Depth-first search in priority order, so the first kMatch reached is the leftmost-first match.
  // With `memo`, a state (pc, pos) already explored is a known failure (see forget_position).
  int64_t run(size_t index, size_t start, bool memo) {
    const std::vector<Inst>& code = prog_.code[index];
    const size_t n = text_.size();
    memo = memo && memo_width_ != 0;
    // One backtrack stack per lookahead nesting depth, reused across calls.
    if (depth_ == stacks_.size()) stacks_.emplace_back();
    auto& stack = stacks_[depth_];
    stack.clear();
    stack.emplace_back(0, static_cast<uint32_t>(start));
    struct DepthGuard {
      size_t& depth;
      explicit DepthGuard(size_t& d) : depth(d) { ++depth; }
      ~DepthGuard() { --depth; }
    } guard(depth_);
    while (!stack.empty()) {
      auto [pc, pos] = stack.back();
      stack.pop_back();
      while (true) {
        if (memo && test_and_set(pc, pos)) break;
        const Inst& inst = code[pc];
        bool ok = true;
        switch (inst.op) {
          case Op::kChar:
            ok = pos < n && (inst.flag ? fold(text_[pos]) : text_[pos]) == inst.a;
            ++pos;
            ++pc;
            break;
          case Op::kClass:
            ok = pos < n && prog_.classes[inst.a].matches(text_[pos]);
            ++pos;
            ++pc;
            break;
          case Op::kAny:
            ok = pos < n && (inst.flag || text_[pos] != '\n');
            ++pos;
            ++pc;
            break;
          case Op::kSplit:
            stack.emplace_back(inst.b, pos);
            pc = inst.a;
            break;
          case Op::kJmp:
            pc = inst.a;
            break;
          case Op::kTextStart:
            ok = pos == 0;
            ++pc;
            break;
          case Op::kTextEnd:
            ok = pos == n;
            ++pc;
            break;
          case Op::kTextEndNl:
            ok = pos == n || (pos + 1 == n && text_[pos] == '\n');
            ++pc;
            break;
          case Op::kLook:
            ok = look(inst.a, pos) != inst.flag;
            ++pc;
            break;
          case Op::kMatch:
            return pos;
        }
        if (!ok) break;
      }
    }
    return -1;
  }

  const SplitRegex::Program& prog_;
  std::span<const uint32_t> text_;
  size_t memo_width_ = 0;  // 0: no memo (text too long for the bit budget)
  std::vector<uint64_t> visited_;
  std::vector<std::vector<int8_t>> look_cache_;
  // A deque: growing it for a nested lookahead keeps the outer stacks where they are.
  std::deque<std::vector<std::pair<uint32_t, uint32_t>>> stacks_;
  size_t depth_ = 0;
};

}  // namespace

SplitRegex::SplitRegex(std::unique_ptr<Program> program) : program_(std::move(program)) {}
SplitRegex::SplitRegex(SplitRegex&&) noexcept = default;
SplitRegex& SplitRegex::operator=(SplitRegex&&) noexcept = default;
SplitRegex::SplitRegex(const SplitRegex& other)
    : program_(std::make_unique<Program>(*other.program_)) {}
SplitRegex& SplitRegex::operator=(const SplitRegex& other) {
  if (this != &other) program_ = std::make_unique<Program>(*other.program_);
  return *this;
}
SplitRegex::~SplitRegex() = default;

SplitRegex SplitRegex::compile(std::string_view pattern) {
  auto prog = std::make_unique<Program>();
  prog->pattern = std::string(pattern);
  Parser parser(pattern);
  Node root = parser.parse(prog->classes);
  Compiler compiler(*prog, pattern);
  compiler.compile_program(root);
  return SplitRegex(std::move(prog));
}

const std::string& SplitRegex::pattern() const {
  return program_->pattern;
}

int64_t SplitRegex::match_at(std::span<const uint32_t> text, size_t start) const {
  if (start > text.size()) return -1;
  Matcher m(*program_, text);
  const int64_t end = m.match_main(start);
  return end < 0 ? -1 : end - static_cast<int64_t>(start);
}

void SplitRegex::split(std::span<const uint32_t> text, std::vector<size_t>& lengths) const {
  Matcher m(*program_, text);
  size_t prev = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const int64_t end = m.match_main(pos);
    if (end > static_cast<int64_t>(pos)) {
      if (pos > prev) lengths.push_back(pos - prev);
      lengths.push_back(static_cast<size_t>(end) - pos);
      pos = prev = static_cast<size_t>(end);
      m.forget_position(pos);
    } else {
      ++pos;  // no match here (an empty match splits nothing)
    }
  }
  if (text.size() > prev) lengths.push_back(text.size() - prev);
}

std::vector<size_t> split_with_all(std::span<const uint32_t> text,
                                   const std::vector<SplitRegex>& regexes) {
  std::vector<size_t> pieces;
  if (text.empty()) return pieces;
  pieces.push_back(text.size());
  for (const SplitRegex& regex : regexes) {
    std::vector<size_t> next;
    next.reserve(pieces.size());
    size_t offset = 0;
    for (size_t len : pieces) {
      regex.split(text.subspan(offset, len), next);
      offset += len;
    }
    pieces = std::move(next);
  }
  return pieces;
}

}  // namespace vigil::tok
