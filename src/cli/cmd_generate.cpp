// vigil generate / chat / eval: text generation, interactive chat, and raw logits.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "base/error.h"
#include "base/file.h"
#include "cli/commands.h"
#include "cli/options.h"

namespace vigil::cli {
namespace {

void print_stats(const GenerateResult& r) {
  const auto& s = r.stats;
  std::fprintf(stderr,
               "\n[prompt: %d tokens in %.1f ms (%.2f tok/s) | generated: %d tokens in %.1f ms "
               "(%.2f tok/s) | first token after %.1f ms | stop: %s]\n",
               s.n_prompt, s.prompt_ms, s.prompt_ms > 0 ? s.n_prompt * 1000.0 / s.prompt_ms : 0.0,
               s.n_generated, s.generate_ms,
               s.generate_ms > 0 ? s.n_generated * 1000.0 / s.generate_ms : 0.0, s.first_token_ms,
               r.stop_reason.c_str());
}

std::vector<int32_t> parse_ids(const std::string& text, const std::string& where) {
  std::vector<int32_t> ids;
  std::istringstream in(text);
  std::string word;
  while (in >> word) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != word.size() || v < 0 || v > INT32_MAX) {
      fail_usage("{}: '{}' is not a token id (expected a non-negative integer)", where,
                 printable(word));
    }
    ids.push_back(static_cast<int32_t>(v));
  }
  return ids;
}

}  // namespace

void register_generate(CLI::App& app) {
  {
    auto* cmd = app.add_subcommand("generate", "Generate text from a prompt, streamed to stdout");
    auto model = std::make_shared<ModelOptions>();
    auto sampling = std::make_shared<SamplingOptions>();
    auto prompt = std::make_shared<std::string>();
    auto n = std::make_shared<int32_t>(128);
    auto stops = std::make_shared<std::vector<std::string>>();
    auto stats = std::make_shared<bool>(false);
    auto no_bos = std::make_shared<bool>(false);
    auto chat = std::make_shared<bool>(false);
    auto truncate = std::make_shared<bool>(false);
    model->add(*cmd);
    sampling->add(*cmd);
    cmd->add_option("-p,--prompt", *prompt, "Prompt text ('-' reads stdin)")->required();
    cmd->add_option("-n,--max-tokens", *n, "Tokens to generate")->check(CLI::Range(0, 1 << 24));
    cmd->add_option("--stop", *stops, "Stop string (repeatable)");
    cmd->add_flag("--stats", *stats, "Print timing to stderr");
    cmd->add_flag("--no-bos", *no_bos, "Do not add the BOS token");
    cmd->add_flag("--chat", *chat, "Wrap the prompt as one user turn in the chat template");
    cmd->add_flag("--truncate", *truncate,
                  "Keep the prompt's last tokens if it exceeds the context");
    cmd->callback([=] {
      Engine engine(model->engine_options());
      GenerateRequest req;
      req.prompt = *prompt == "-" ? read_stdin() : *prompt;
      if (*chat) req.prompt = engine.apply_chat_template({{"user", req.prompt}});
      req.max_tokens = *n;
      req.sampling = sampling->params;
      req.stop = *stops;
      req.add_bos = !*no_bos;
      req.truncate_prompt = *truncate;
      auto r = engine.generate(req, [](std::string_view piece) {
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
        return true;
      });
      std::fputc('\n', stdout);
      if (*stats) {
        print_stats(r);
        print_stream_stats(engine, r);
      }
    });
  }
  {
    auto* cmd = app.add_subcommand("chat", "Interactive chat with the model's chat template");
    auto model = std::make_shared<ModelOptions>();
    auto sampling = std::make_shared<SamplingOptions>();
    auto system = std::make_shared<std::string>();
    auto n = std::make_shared<int32_t>(512);
    model->add(*cmd);
    sampling->add(*cmd);
    cmd->add_option("-s,--system", *system, "System prompt");
    cmd->add_option("-n,--max-tokens", *n, "Max tokens per reply");
    cmd->callback([=] {
      Engine engine(model->engine_options());
      std::vector<ChatMessage> history;
      if (!system->empty()) history.push_back({"system", *system});
      std::fprintf(stderr, "chat with %s (template %s); empty line or Ctrl-D ends\n",
                   model->model.c_str(),
                   std::string(chat_format_name(engine.chat_format())).c_str());
      std::string line;
      for (;;) {
        std::fputs("> ", stderr);
        if (!std::getline(std::cin, line) || line.empty()) break;
        history.push_back({"user", line});
        GenerateRequest req;
        req.prompt = engine.apply_chat_template(history);
        req.add_bos = false;  // templates that need BOS write it themselves
        req.max_tokens = *n;
        req.sampling = sampling->params;
        req.truncate_prompt = true;
        auto r = engine.generate(req, [](std::string_view piece) {
          std::fwrite(piece.data(), 1, piece.size(), stdout);
          std::fflush(stdout);
          return true;
        });
        std::fputc('\n', stdout);
        history.push_back({"assistant", r.text});
      }
    });
  }
  {
    auto* cmd = app.add_subcommand(
        "eval", "Run token ids through the model and dump the logits of every position");
    auto model = std::make_shared<ModelOptions>();
    auto tokens = std::make_shared<std::string>();
    auto tokens_file = std::make_shared<std::string>();
    auto out = std::make_shared<std::string>();
    model->add(*cmd);
    auto* t = cmd->add_option("--tokens", *tokens,
                              "Token ids, space-separated (used as given: no BOS added)");
    auto* tf =
        cmd->add_option("--tokens-file", *tokens_file, "File of whitespace-separated token ids");
    t->excludes(tf);
    cmd->add_option("--dump-logits", *out,
                    "Output: raw little-endian float32 logits, [n_tokens][n_vocab]")
        ->required();
    cmd->callback([=] {
      std::vector<int32_t> ids;
      if (!tokens->empty())
        ids = parse_ids(*tokens, "--tokens");
      else if (!tokens_file->empty())
        ids = parse_ids(read_file(*tokens_file), *tokens_file);
      else
        fail_usage("eval: give --tokens or --tokens-file");
      if (ids.empty()) fail_usage("eval: no token ids given");
      EngineOptions eo = model->engine_options();
      if (eo.n_ctx == 0) eo.n_ctx = static_cast<int32_t>(std::max<size_t>(ids.size(), 16));
      Engine engine(eo);
      auto logits = engine.context().eval(ids, /*all_logits=*/true);
      std::string bytes(reinterpret_cast<const char*>(logits.data()),
                        logits.size() * sizeof(float));
      write_file_atomic(*out, bytes);
      std::fprintf(stderr, "wrote %zu x %d logits to %s\n", ids.size(), engine.context().n_vocab(),
                   out->c_str());
    });
  }
}

}  // namespace vigil::cli
