#include "llm/model/synth.h"

#include <cstring>
#include <filesystem>

#include "base/error.h"
#include "llm/format/gguf.h"
#include "llm/kernels/kernels.h"
#include "llm/quant/blocks.h"

namespace vigil {
namespace {

// xorshift64*: fast, and good enough for random weights.
struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1DULL;
  }
  float uniform() { return static_cast<float>(next() >> 40) / static_cast<float>(1 << 24); }  // [0,1)
};

void fill_random(uint8_t* p, size_t n, Rng& rng) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint64_t v = rng.next();
    std::memcpy(p + i, &v, 8);
  }
  for (; i < n; ++i) p[i] = static_cast<uint8_t>(rng.next());
}

uint16_t scale_f16(Rng& rng, float base) { return quant::fp32_to_fp16(base * (0.5f + rng.uniform())); }

// Fills `bytes` with random blocks of `type`: random quants, then every scale field replaced by
// a small positive fp16 so values are around ±0.02 (a trained layer's typical weights).
void random_blocks(GgmlType type, uint8_t* out, size_t bytes, Rng& rng) {
  fill_random(out, bytes, rng);
  const auto& traits = ggml_traits(type);
  const size_t n_blocks = bytes / traits.block_bytes;
  for (size_t b = 0; b < n_blocks; ++b) {
    uint8_t* blk = out + b * traits.block_bytes;
    auto set16 = [&](size_t offset, uint16_t v) { std::memcpy(blk + offset, &v, 2); };
    switch (type) {
      case GgmlType::Q4_0:
      case GgmlType::Q5_0:
        set16(0, scale_f16(rng, 0.004f));
        break;
      case GgmlType::Q8_0:
        set16(0, scale_f16(rng, 0.0003f));
        break;
      case GgmlType::Q4_1:
      case GgmlType::Q5_1:
        set16(0, scale_f16(rng, 0.003f));
        set16(2, quant::fp32_to_fp16(-0.02f));
        break;
      case GgmlType::Q4_K:
      case GgmlType::Q5_K:
        set16(0, scale_f16(rng, 0.0001f));
        set16(2, scale_f16(rng, 0.0002f));
        break;
      case GgmlType::Q6_K:
        set16(offsetof(quant::BlockQ6_K, d), scale_f16(rng, 0.0001f));
        break;
      case GgmlType::F16:
        for (size_t k = 0; k < traits.block_bytes; k += 2) set16(k, quant::fp32_to_fp16((rng.uniform() - 0.5f) * 0.04f));
        break;
      case GgmlType::BF16:
        for (size_t k = 0; k < traits.block_bytes; k += 2) set16(k, quant::fp32_to_bf16((rng.uniform() - 0.5f) * 0.04f));
        break;
      case GgmlType::F32: {
        const float v = (rng.uniform() - 0.5f) * 0.04f;
        std::memcpy(blk, &v, 4);
        break;
      }
      default:
        fail("synth: weight type {} is not supported (expected f32, f16, bf16, q4_0, q4_1, "
             "q5_0, q5_1, q8_0, q4_K, q5_K or q6_K)", ggml_type_name(type));
    }
  }
}

}  // namespace

uint64_t write_synthetic_model(const SynthSpec& spec, const std::string& path) {
  SynthSpec s = spec;
  if (s.n_head_kv == 0) s.n_head_kv = s.n_head;
  if (s.arch != "llama" && s.arch != "mistral") {
    fail("synth: --arch {} is not supported (expected llama or mistral)", s.arch);
  }
  if (s.n_layers <= 0 || s.n_embd <= 0 || s.n_ff <= 0 || s.n_head <= 0 || s.n_head_kv <= 0 ||
      s.n_embd % s.n_head != 0 || s.n_head % s.n_head_kv != 0) {
    fail_usage("synth: invalid shape (layers {}, hidden {}, ffn {}, heads {}, kv heads {}): hidden "
               "must divide by heads and heads by kv heads", s.n_layers, s.n_embd, s.n_ff, s.n_head,
               s.n_head_kv);
  }
  if (!kernels::has_kernels(s.type)) fail_usage("synth: type {} has no kernels", ggml_type_name(s.type));
  const uint32_t block = ggml_traits(s.type).block_values;
  if (s.n_embd % block != 0 || s.n_ff % block != 0) {
    fail_usage("synth: hidden {} and ffn {} must be multiples of the {} block size {}", s.n_embd,
               s.n_ff, ggml_type_name(s.type), block);
  }
  if (s.vocab_from.empty()) fail_usage("synth: --vocab-from VOCAB.gguf is required");
  const gguf::GgufFile vocab = gguf::GgufFile::open(s.vocab_from);
  const uint64_t n_vocab = vocab.get("tokenizer.ggml.tokens").array.size();
  if (n_vocab == 0) fail("{}: tokenizer.ggml.tokens is empty", s.vocab_from);

  gguf::GgufWriter w;
  const std::string a = s.arch;
  w.set("general.architecture", gguf::Value::of_string(a));
  w.set("general.name", gguf::Value::of_string("vigil-synth"));
  w.set("general.file_type", gguf::Value::of_u32(0));
  w.set(a + ".block_count", gguf::Value::of_u32(static_cast<uint32_t>(s.n_layers)));
  w.set(a + ".embedding_length", gguf::Value::of_u32(static_cast<uint32_t>(s.n_embd)));
  w.set(a + ".feed_forward_length", gguf::Value::of_u32(static_cast<uint32_t>(s.n_ff)));
  w.set(a + ".attention.head_count", gguf::Value::of_u32(static_cast<uint32_t>(s.n_head)));
  w.set(a + ".attention.head_count_kv", gguf::Value::of_u32(static_cast<uint32_t>(s.n_head_kv)));
  w.set(a + ".context_length", gguf::Value::of_u32(static_cast<uint32_t>(s.n_ctx)));
  w.set(a + ".attention.layer_norm_rms_epsilon", gguf::Value::of_f32(1e-5f));
  w.set(a + ".rope.freq_base", gguf::Value::of_f32(10000.0f));
  w.set(a + ".rope.dimension_count", gguf::Value::of_u32(static_cast<uint32_t>(s.n_embd / s.n_head)));
  for (const auto& [key, value] : vocab.metadata()) {
    if (key.rfind("tokenizer.", 0) == 0) w.set(key, value);
  }

  const auto d = static_cast<uint64_t>(s.n_embd);
  const auto ff = static_cast<uint64_t>(s.n_ff);
  const uint64_t kv = d / static_cast<uint64_t>(s.n_head) * static_cast<uint64_t>(s.n_head_kv);
  w.add_tensor("token_embd.weight", s.type, {d, n_vocab});
  for (int32_t i = 0; i < s.n_layers; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    w.add_tensor(b + "attn_norm.weight", GgmlType::F32, {d});
    w.add_tensor(b + "attn_q.weight", s.type, {d, d});
    w.add_tensor(b + "attn_k.weight", s.type, {d, kv});
    w.add_tensor(b + "attn_v.weight", s.type, {d, kv});
    w.add_tensor(b + "attn_output.weight", s.type, {d, d});
    w.add_tensor(b + "ffn_norm.weight", GgmlType::F32, {d});
    w.add_tensor(b + "ffn_gate.weight", s.type, {d, ff});
    w.add_tensor(b + "ffn_up.weight", s.type, {d, ff});
    w.add_tensor(b + "ffn_down.weight", s.type, {ff, d});
  }
  w.add_tensor("output_norm.weight", GgmlType::F32, {d});
  w.add_tensor("output.weight", s.type, {d, n_vocab});

  Rng rng{s.seed * 0x9E3779B97F4A7C15ULL + 1};
  uint64_t total = 0;
  w.write(path, [&](size_t index, std::string& out) {
    const gguf::TensorInfo& t = w.tensors()[index];
    const size_t start = out.size();
    out.resize(start + t.size_bytes);
    auto* p = reinterpret_cast<uint8_t*>(out.data() + start);
    if (t.shape.size() == 1) {  // norms: ones
      for (uint64_t k = 0; k < t.shape[0]; ++k) {
        const float one = 1.0f;
        std::memcpy(p + 4 * k, &one, 4);
      }
    } else {
      random_blocks(t.type, p, t.size_bytes, rng);
    }
    total += t.size_bytes;
  });
  return total;
}

}  // namespace vigil
