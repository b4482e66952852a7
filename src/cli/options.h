// Command-line options shared by the LLM subcommands (model, threads, context, sampling).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "llm/engine.h"

namespace vigil::cli {

// --mmap (EngineOptions::mmap), for commands that build their own model options.
void add_mmap_flag(CLI::App& cmd, bool& mmap);

struct ModelOptions {
  std::string model;
  int threads = 0;
  int32_t ctx = 0;
  std::string kv_type = "f16";
  bool exact = false;
  std::string chat_template;
  std::string mem_budget;  // "1G", "768M"; empty = no cap
  bool no_direct_io = false;
  bool mmap = false;

  void add(CLI::App& cmd);
  EngineOptions engine_options() const;
};

struct SamplingOptions {
  SamplingParams params;
  void add(CLI::App& cmd);
};

// With --stats on a streamed model: the residency plan, per-token I/O and the totals (stderr).
void print_stream_stats(const Engine& engine, const GenerateResult& result);

// Reads all of stdin verbatim (binary-safe, nothing stripped).
std::string read_stdin();

}  // namespace vigil::cli
