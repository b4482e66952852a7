// vigil quantize IN OUT --type TYPE [--imatrix FILE] [-t THREADS]: converts a GGUF or a Hugging
// Face safetensors folder into a GGUF of another type, byte-identical to llama-quantize (see
// llm/compress/quantize.h).
#include <cstdio>
#include <memory>
#include <string>

#include "base/error.h"
#include "cli/commands.h"
#include "llm/compress/quantize.h"

namespace vigil::cli {

void register_quantize(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "quantize",
      "Convert a GGUF or a HF safetensors folder to a GGUF of another type (llama.cpp's per-tensor "
      "choices, byte-identical tensors)");
  auto in = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto opts = std::make_shared<compress::QuantizeOptions>();
  auto quiet = std::make_shared<bool>(false);
  std::string types;
  for (const auto& t : compress::quant_types())
    types += (types.empty() ? "" : ", ") + std::string(t.name);
  cmd->add_option("IN", *in, "Input: .gguf (f32/f16/bf16 or quantized) or HF folder")->required();
  cmd->add_option("OUT", *out, "Output .gguf (written to a temp file, then renamed)")->required();
  cmd->add_option("--type", opts->type, "Target type: " + types)->required();
  cmd->add_option("--imatrix", opts->imatrix_path,
                  "Importance matrix (llama.cpp imatrix.dat) to weight the rounding");
  cmd->add_option("-t,--threads", opts->n_threads, "Threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("-q,--quiet", *quiet, "No progress line");
  cmd->callback([in, out, opts, quiet] {
    compress::parse_quant_type(opts->type);  // usage error before any work
    opts->progress = !*quiet;
    const compress::QuantizeResult r = compress::quantize_model(*in, *out, *opts);
    for (const auto& t : r.tensors) {
      if (!t.note.empty()) std::fprintf(stderr, "note: %s: %s\n", t.name.c_str(), t.note.c_str());
    }
    const std::string with_imatrix =
        opts->imatrix_path.empty() ? "" : ", " + std::to_string(r.n_imatrix_used) + " with imatrix";
    std::fprintf(stderr,
                 "quantize: %s -> %s (%s): %zu tensors, %.2f MiB of tensor data -> %.2f MiB file, "
                 "%d fallback(s)%s, %.1f s\n",
                 in->c_str(), out->c_str(), opts->type.c_str(), r.tensors.size(),
                 static_cast<double>(r.input_bytes) / (1 << 20),
                 static_cast<double>(r.output_bytes) / (1 << 20), r.n_fallback,
                 with_imatrix.c_str(), r.seconds);
  });
}

}  // namespace vigil::cli
