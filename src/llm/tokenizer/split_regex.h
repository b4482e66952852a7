// The regular expressions of BPE pre-tokenizers ("split the text into words before merging"),
// matched over Unicode code points.
//
// std::regex cannot express \p{L}, so this is a small backtracking engine of its own, with the
// semantics of Oniguruma/PCRE/ECMAScript (leftmost match, first alternative that succeeds,
// greedy or lazy quantifiers). Supported syntax: literals, `.`, classes `[...]` / `[^...]` with
// ranges, `\s \S \d \D \w \W`, `\p{..}` / `\P{..}` (general categories such as L, N, P, Lu, and
// scripts such as Han), escapes `\t \n \r \f \v \xHH \x{H..} \uHHHH`, groups `(...)`, `(?:...)`,
// `(?i:...)`, `(?i)`, lookahead `(?=...)` / `(?!...)`, anchors `^ $ \A \z \Z`, quantifiers
// `* + ? {n} {n,} {n,m}` with an optional lazy `?`. Anything else is rejected when compiling.
//
// Matching memoizes failed (instruction, position) states, so splitting is linear in the input
// for a given pattern (no catastrophic backtracking on long runs of spaces or digits).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::tok {

class SplitRegex {
 public:
  // Throws vigil::Error naming the pattern and the offending position.
  static SplitRegex compile(std::string_view pattern);

  SplitRegex(SplitRegex&&) noexcept;
  SplitRegex& operator=(SplitRegex&&) noexcept;
  SplitRegex(const SplitRegex&);
  SplitRegex& operator=(const SplitRegex&);
  ~SplitRegex();

  // Splits `text` (one piece, matched on its own: anchors and lookahead see only this piece) into
  // consecutive pieces: every match and every stretch of text between two matches ("isolated"
  // split behaviour, as llama.cpp and HF `Split` do). Appends the piece lengths in code points to
  // `lengths`; they sum to text.size().
  void split(std::span<const uint32_t> text, std::vector<size_t>& lengths) const;

  // Length of the match starting exactly at `start` (-1 if none). For tests.
  int64_t match_at(std::span<const uint32_t> text, size_t start) const;

  const std::string& pattern() const;

  struct Program;

 private:
  explicit SplitRegex(std::unique_ptr<Program> program);
  std::unique_ptr<Program> program_;
};

// Splits `text` with each regex in turn: pieces from one regex are split further by the next.
// Returns piece lengths in code points.
std::vector<size_t> split_with_all(std::span<const uint32_t> text,
                                   const std::vector<SplitRegex>& regexes);

}  // namespace vigil::tok
