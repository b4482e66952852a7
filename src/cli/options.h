// Command-line options shared by the LLM subcommands (model, threads, context, sampling).
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "llm/engine.h"

namespace vigil::cli {

struct ModelOptions {
  std::string model;
  int threads = 0;
  int32_t ctx = 0;
  std::string kv_type = "f16";
  bool exact = false;
  std::string chat_template;

  void add(CLI::App& cmd);
  EngineOptions engine_options() const;
};

struct SamplingOptions {
  SamplingParams params;
  void add(CLI::App& cmd);
};

// Reads all of stdin verbatim (binary-safe, nothing stripped).
std::string read_stdin();

}  // namespace vigil::cli
