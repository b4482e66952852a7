// The pre-tokenizer regex engine and the Unicode helpers.
#include "llm/tokenizer/split_regex.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "llm/tokenizer/pre_tokenizers.h"
#include "llm/tokenizer/unicode.h"

namespace vigil::tok {
namespace {

// Splits UTF-8 `text` with `patterns` in turn and returns the pieces as UTF-8.
std::vector<std::string> split(const std::vector<std::string>& patterns, const std::string& text) {
  std::vector<SplitRegex> regexes;
  for (const auto& p : patterns) regexes.push_back(SplitRegex::compile(p));
  const std::vector<uint32_t> cps = to_code_points(text);
  std::vector<std::string> pieces;
  size_t start = 0;
  for (size_t len : split_with_all(cps, regexes)) {
    std::string piece;
    for (size_t i = start; i < start + len; ++i) append_utf8(piece, cps[i]);
    pieces.push_back(piece);
    start += len;
  }
  return pieces;
}

using Pieces = std::vector<std::string>;

TEST(SplitRegex, Gpt2Pattern) {
  const std::vector<std::string> gpt2 = {gpt2_split_pattern()};
  EXPECT_EQ(split(gpt2, "Hello world"), (Pieces{"Hello", " world"}));
  // Whitespace before a word: all but the last space form their own piece.
  EXPECT_EQ(split(gpt2, "a   b"), (Pieces{"a", "  ", " b"}));
  EXPECT_EQ(split(gpt2, "a   "), (Pieces{"a", "   "}));
  EXPECT_EQ(split(gpt2, "I've 12 apples!!"), (Pieces{"I", "'ve", " 12", " apples", "!!"}));
  // A tab before a word matches nothing and stays as its own piece.
  EXPECT_EQ(split(gpt2, "\tx"), (Pieces{"\t", "x"}));
  EXPECT_EQ(split(gpt2, "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC"),
            (Pieces{"caf\xC3\xA9", " \xE6\x97\xA5\xE6\x9C\xAC"}));
}

TEST(SplitRegex, Llama3AndQwen2Patterns) {
  const auto llama3 = pre_tokenizer_for("llama-bpe");
  EXPECT_TRUE(llama3.ignore_merges);
  EXPECT_EQ(split(llama3.patterns, "12345 x"), (Pieces{"123", "45", " x"}));
  EXPECT_EQ(split(llama3.patterns, "HE'S"), (Pieces{"HE", "'S"}));
  EXPECT_EQ(split(llama3.patterns, "ok!\n\nnext"), (Pieces{"ok", "!\n\n", "next"}));
  const auto qwen2 = pre_tokenizer_for("qwen2");
  EXPECT_TRUE(qwen2.nfc);
  EXPECT_EQ(split(qwen2.patterns, "12345"), (Pieces{"1", "2", "3", "4", "5"}));
}

TEST(SplitRegex, SequencesOfPatterns) {
  // Falcon: punctuation runs first, then GPT-2, then groups of three ASCII digits.
  const auto falcon = pre_tokenizer_for("falcon");
  EXPECT_EQ(split(falcon.patterns, "a+b 1234567"), (Pieces{"a", "+", "b", " ", "123", "456", "7"}));
  EXPECT_EQ(split(falcon.patterns, "1234567"), (Pieces{"123", "456", "7"}));
  const auto deepseek = pre_tokenizer_for("deepseek-llm");
  EXPECT_EQ(split(deepseek.patterns, "Hi\n\xE4\xBD\xA0\xE5\xA5\xBD 42"),
            (Pieces{"Hi", "\n", "\xE4\xBD\xA0\xE5\xA5\xBD", " ", "42"}));
  const auto coder = pre_tokenizer_for("deepseek-coder");
  EXPECT_EQ(split(coder.patterns, "x=42"), (Pieces{"x", "=", "4", "2"}));
  for (const char* name :
       {"default", "gpt-2", "llama3", "qwen2", "deepseek-llm", "deepseek-coder", "falcon",
        "starcoder", "mpt", "gpt-neox", "refact", "command-r", "bloom", "viking", "stablelm2"}) {
    const auto spec = pre_tokenizer_for(name);
    EXPECT_TRUE(spec.known) << name;
    for (const auto& p : spec.patterns) EXPECT_NO_THROW(SplitRegex::compile(p)) << name;
  }
  EXPECT_FALSE(pre_tokenizer_for("no-such-pre").known);
}

TEST(SplitRegex, PatternsOfOtherTokenizerJsonFiles) {
  // GPT-4o / Llama 4 (o200k) and Mistral Nemo (tekken) patterns, as their tokenizer.json has them.
  const std::string o200k =
      R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+)"
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+)"
      R"([\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+)"
      R"([\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  EXPECT_EQ(split({o200k}, "HelloWorld DON'T 2025"),
            (Pieces{"Hello", "World", " DON'T", " ", "202", "5"}));
  const std::string tekken =
      R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|)"
      R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|)"
      R"(\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  EXPECT_EQ(split({tekken}, "camelCase 42"), (Pieces{"camel", "Case", " ", "4", "2"}));
}

TEST(SplitRegex, Syntax) {
  auto match = [](const char* pattern, const std::string& text) {
    return SplitRegex::compile(pattern).match_at(to_code_points(text), 0);
  };
  EXPECT_EQ(match(R"(\p{L}+)", "\xC3\xA9t\xC3\xA9!"), 3);  // été
  EXPECT_EQ(match(R"(\p{N}+)", "\xD9\xA3\xD9\xA4x"), 2);   // Arabic-Indic digits
  EXPECT_EQ(match(R"(\s+)", " \xE3\x80\x80\t\n"), 4);      // U+3000 is whitespace
  EXPECT_EQ(match(R"(\p{Han}+)",
                  "\xE6\x97\xA5\xE6\x9C\xAC"
                  "a"),
            2);
  EXPECT_EQ(match(R"(\P{L})", "a"), -1);
  EXPECT_EQ(match(R"((?i:ab)c)", "ABc"), 3);
  EXPECT_EQ(match(R"((?i:ab)c)", "ABC"), -1);
  EXPECT_EQ(match(R"([^a-c]+)", "xyzb"), 3);
  EXPECT_EQ(match(R"(a{2,3})", "aaaa"), 3);
  EXPECT_EQ(match(R"(a{2,})", "aaaa"), 4);
  EXPECT_EQ(match(R"(a{2})", "a"), -1);
  EXPECT_EQ(match(R"(a+?)", "aaa"), 1);
  EXPECT_EQ(match(R"(a|ab)", "ab"), 1);  // first alternative wins, not the longest
  EXPECT_EQ(match(R"(a(?=b))", "ab"), 1);
  EXPECT_EQ(match(R"(a(?!b))", "ab"), -1);
  EXPECT_EQ(match(R"(\s+$)", "  "), 2);
  EXPECT_EQ(match(R"(\s+$)", "  x"), -1);
  EXPECT_EQ(match(R"(\x41\x{1F999}\u00e9)", "A\xF0\x9F\xA6\x99\xC3\xA9"), 3);
  EXPECT_EQ(match(R"([\]\-a])", "-"), 1);
  EXPECT_EQ(match(R"(x{,2})", "x{,2}"), 5);  // not a quantifier: literal braces
  EXPECT_EQ(match(R"(.)", "\n"), -1);
  EXPECT_EQ(match(R"((?s).)", "\n"), 1);
}

TEST(SplitRegex, RejectsWhatItCannotDo) {
  for (const char* bad : {"(abc", "abc)", "[a-", "[b-a]", "\\p{Bogus}", "a**", "*a", "(?<n>x)",
                          "(a*)*", "\\1", "a{3,1}", "[[:alpha:]]", "a++", "\\xZZ"}) {
    EXPECT_THROW(SplitRegex::compile(bad), Error) << bad;
  }
  try {
    SplitRegex::compile("(x");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(x"), std::string::npos) << e.what();
  }
}

TEST(SplitRegex, LongRunsStayLinear) {
  // Without memoization `\s+$` over 200 000 spaces before a letter takes ~2e10 steps.
  std::vector<uint32_t> text(200000, ' ');
  text.push_back('x');
  std::vector<size_t> lengths;
  SplitRegex::compile(R"(\s+$)").split(text, lengths);
  EXPECT_EQ(lengths, (std::vector<size_t>{text.size()}));
  lengths.clear();
  SplitRegex::compile(gpt2_split_pattern()).split(text, lengths);
  EXPECT_EQ(lengths, (std::vector<size_t>{199999, 2}));
}

TEST(Unicode, Utf8) {
  size_t pos = 0;
  EXPECT_EQ(decode_utf8("\xF0\x9F\xA6\x99", pos), 0x1F999u);
  EXPECT_EQ(pos, 4u);
  // Each bad byte is one U+FFFD in to_code_points (llama.cpp's rule) ...
  EXPECT_EQ(to_code_points("\xE2\x82"
                           "a"),
            (std::vector<uint32_t>{kReplacementChar, kReplacementChar, 'a'}));
  EXPECT_EQ(to_code_points("\xC0\xAF"),
            (std::vector<uint32_t>{kReplacementChar, kReplacementChar}));
  // ... while sanitize_utf8 replaces each maximal ill-formed subpart once.
  EXPECT_EQ(sanitize_utf8("\xE2\x82"
                          "a"),
            "\xEF\xBF\xBD"
            "a");
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(sanitize_utf8("ok \xC3\xA9 \xF0\x9F\xA6\x99"), "ok \xC3\xA9 \xF0\x9F\xA6\x99");
  EXPECT_EQ(sanitize_utf8("\xF4\x90\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(to_utf8(0xE9), "\xC3\xA9");
}

TEST(Unicode, ByteLevelTableIsABijection) {
  std::vector<bool> seen(0x200, false);
  for (int b = 0; b < 256; ++b) {
    const uint32_t cp = byte_to_code_point(static_cast<uint8_t>(b));
    ASSERT_LT(cp, seen.size());
    EXPECT_FALSE(seen[cp]);
    seen[cp] = true;
    EXPECT_EQ(code_point_to_byte(cp), b);
  }
  EXPECT_EQ(byte_to_code_point(' '), 0x120u);   // 'Ġ'
  EXPECT_EQ(byte_to_code_point('\n'), 0x10Au);  // 'Ċ'
  EXPECT_EQ(byte_to_code_point('A'), static_cast<uint32_t>('A'));
  EXPECT_EQ(code_point_to_byte(0x4E00), -1);
}

TEST(Unicode, Normalization) {
  EXPECT_EQ(normalize("cafe\xCC\x81", NormalForm::NFC), "caf\xC3\xA9");
  EXPECT_EQ(normalize("caf\xC3\xA9", NormalForm::NFD), "cafe\xCC\x81");
  EXPECT_EQ(normalize("\xEF\xAC\x81", NormalForm::NFKC), "fi");  // ligature
  EXPECT_EQ(normalize("plain ascii", NormalForm::NFC), "plain ascii");
}

}  // namespace
}  // namespace vigil::tok
