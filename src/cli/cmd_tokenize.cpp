// vigil tokenize / vigil detokenize: text <-> token ids with a model's tokenizer (a .gguf file or
// a Hugging Face folder with tokenizer.json).
//
//   vigil tokenize -m MODEL [--ids] [--no-bos] [--parse-special] [--text TEXT]
//   vigil detokenize -m MODEL [--ids "1 2 3"] [--skip-special]
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "cli/commands.h"
#include "llm/tokenizer/tokenizer.h"

namespace vigil::cli {
namespace {

// All of stdin, byte for byte (nothing stripped, trailing newlines kept).
std::string read_all_stdin() {
  std::string data;
  char buf[65536];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) data.append(buf, n);
  if (std::ferror(stdin)) fail("stdin: read error");
  return data;
}

void write_stdout(std::string_view s) {
  if (!s.empty() && std::fwrite(s.data(), 1, s.size(), stdout) != s.size()) {
    fail("stdout: write error");
  }
  if (std::fflush(stdout) != 0) fail("stdout: write error");
}

// A token piece in single quotes: printable ASCII and valid UTF-8 characters as they are; quote,
// backslash, \n \r \t and every other byte escaped, so whitespace and partial UTF-8 show.
std::string quote_piece(std::string_view piece) {
  std::string out = "'";
  size_t i = 0;
  while (i < piece.size()) {
    const auto c = static_cast<unsigned char>(piece[i]);
    if (c == '\'' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      // A complete, valid multi-byte UTF-8 character is shown as is; anything else as \xNN.
      size_t len = c >= 0xF0 && c <= 0xF4   ? 4
                   : c >= 0xE0 && c <= 0xEF ? 3
                   : c >= 0xC2 && c <= 0xDF ? 2
                                            : 0;
      const std::string_view ch =
          len > 0 && i + len <= piece.size() ? piece.substr(i, len) : std::string_view();
      bool valid = !ch.empty();
      for (size_t k = 1; valid && k < len; ++k) {
        valid = (static_cast<unsigned char>(ch[k]) & 0xC0) == 0x80;
      }
      // Reject overlong / surrogate / out-of-range forms.
      if (valid && len == 3) {
        const auto b1 = static_cast<unsigned char>(ch[1]);
        valid = !(c == 0xE0 && b1 < 0xA0) && !(c == 0xED && b1 >= 0xA0);
      } else if (valid && len == 4) {
        const auto b1 = static_cast<unsigned char>(ch[1]);
        valid = !(c == 0xF0 && b1 < 0x90) && !(c == 0xF4 && b1 >= 0x90);
      }
      if (valid) {
        out += ch;
        i += len;
        continue;
      }
      out += fmt::format("\\x{:02x}", c);
    }
    ++i;
  }
  out += '\'';
  return out;
}

struct TokenizeOptions {
  std::string model;
  bool ids = false;
  bool no_bos = false;
  bool parse_special = false;
  std::string text;
  bool has_text = false;
};

void run_tokenize(const TokenizeOptions& o) {
  const auto tokenizer = Tokenizer::from_path(o.model);
  const std::string input = o.has_text ? o.text : read_all_stdin();
  const std::vector<int32_t> ids = tokenizer->encode(input, !o.no_bos, o.parse_special);
  std::string out;
  if (o.ids) {
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i > 0) out += ' ';
      out += std::to_string(ids[i]);
    }
    out += '\n';
  } else {
    for (int32_t id : ids) {
      out += fmt::format("{:>6} {}\n", id, quote_piece(tokenizer->token_to_piece(id)));
    }
  }
  write_stdout(out);
}

struct DetokenizeOptions {
  std::string model;
  std::string ids;
  bool has_ids = false;
  bool skip_special = false;
};

// Whitespace-separated decimal ids, each checked against the vocabulary.
std::vector<int32_t> parse_ids(const std::string& text, int32_t n_vocab) {
  std::vector<int32_t> ids;
  size_t pos = 0;
  auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  while (pos < text.size()) {
    while (pos < text.size() && is_space(text[pos])) ++pos;
    if (pos >= text.size()) break;
    size_t end = pos;
    while (end < text.size() && !is_space(text[end])) ++end;
    const std::string word = text.substr(pos, end - pos);
    pos = end;
    bool digits = !word.empty() && word.size() <= 10;
    for (char c : word) digits = digits && c >= '0' && c <= '9';
    if (!digits) fail_usage("token id '{}' is not a non-negative integer", printable(word));
    const long long value = std::strtoll(word.c_str(), nullptr, 10);
    if (value >= n_vocab) {
      fail_usage("token id {} is out of range: the vocabulary has ids 0..{}", value, n_vocab - 1);
    }
    ids.push_back(static_cast<int32_t>(value));
  }
  return ids;
}

void run_detokenize(const DetokenizeOptions& o) {
  const auto tokenizer = Tokenizer::from_path(o.model);
  const std::string text = o.has_ids ? o.ids : read_all_stdin();
  const std::vector<int32_t> ids = parse_ids(text, tokenizer->n_vocab());
  write_stdout(tokenizer->decode(ids, !o.skip_special));
}

}  // namespace

void register_tokenize(CLI::App& app) {
  {
    auto o = std::make_shared<TokenizeOptions>();
    auto* cmd = app.add_subcommand(
        "tokenize",
        "Split text into tokens. Reads all of stdin (verbatim, binary-safe) unless --text.\n"
        "Output: one line per token, `ID 'PIECE'`, the piece being the bytes the token stands for\n"
        "with ' \\ \\n \\r \\t and non-UTF-8 bytes escaped (\\xNN); with --ids, the ids alone on\n"
        "one line, separated by spaces.");
    cmd->add_option("-m,--model", o->model, "A .gguf file, or a folder with tokenizer.json")
        ->required();
    cmd->add_flag("--ids", o->ids, "Print only the ids, space-separated, on one line");
    cmd->add_flag("--no-bos", o->no_bos, "Add no BOS/EOS (or [CLS]/[SEP]) tokens");
    cmd->add_flag("--parse-special", o->parse_special,
                  "Text such as <|im_start|> or <s> becomes that special token (otherwise it is "
                  "tokenized as plain text)");
    CLI::Option* text = cmd->add_option("--text", o->text, "Tokenize this text instead of stdin");
    cmd->callback([o, text] {
      o->has_text = text->count() > 0;
      run_tokenize(*o);
    });
  }
  {
    auto o = std::make_shared<DetokenizeOptions>();
    auto* cmd = app.add_subcommand(
        "detokenize",
        "Turn token ids back into text, printed exactly (no newline added; invalid UTF-8 from\n"
        "partial byte tokens becomes U+FFFD). Reads whitespace-separated ids from stdin unless\n"
        "--ids.");
    cmd->add_option("-m,--model", o->model, "A .gguf file, or a folder with tokenizer.json")
        ->required();
    CLI::Option* ids = cmd->add_option("--ids", o->ids, "The ids, e.g. \"1 15043 3186\"");
    cmd->add_flag("--skip-special", o->skip_special,
                  "Leave out control tokens (BOS, EOS, ...) instead of printing their text");
    cmd->callback([o, ids] {
      o->has_ids = ids->count() > 0;
      run_detokenize(*o);
    });
  }
}

}  // namespace vigil::cli
