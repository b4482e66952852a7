#include "gguf_test_util.h"

#include <string>

namespace vigil::gguf::testing {
namespace {

std::string le64(uint64_t v) {
  std::string out(8, '\0');
  std::memcpy(out.data(), &v, 8);
  return out;
}

Value u8_value(uint64_t v) {
  Value out;
  out.type = ValueType::UINT8;
  out.u = v;
  return out;
}

}  // namespace

GgufWriter sample_writer() {
  GgufWriter w;
  w.set("general.architecture", Value::of_string("llama"));
  w.set("general.name", Value::of_string("sample"));
  w.set("test.u32", Value::of_u32(123456));
  w.set("test.i32", Value::of_i32(-42));
  w.set("test.f32", Value::of_f32(0.5f));
  w.set("test.bool", Value::of_bool(true));
  w.set("test.u64", Value::of_u64(1ull << 40));
  w.set("test.strings", Value::of_strings({"alpha", "beta", "gamma"}));
  w.set("test.floats", Value::of_f32s({1.0f, 2.0f, 3.0f, 4.0f}));
  Value nested;
  nested.type = ValueType::ARRAY;
  nested.array_type = ValueType::ARRAY;
  for (int n = 1; n <= 2; ++n) {
    Value inner;
    inner.type = ValueType::ARRAY;
    inner.array_type = ValueType::UINT8;
    for (int k = 0; k < n; ++k) inner.array.push_back(u8_value(static_cast<uint64_t>(k + 1)));
    nested.array.push_back(inner);
  }
  w.set("test.nested", nested);
  // Two keys that differ in their last byte: patching one into the other makes a duplicate.
  w.set("dup.key.aaa", Value::of_u32(1));
  w.set("dup.key.aab", Value::of_u32(2));
  w.set("tokenizer.ggml.model", Value::of_string("llama"));

  w.add_tensor("token_embd.weight", GgmlType::F32, {8, 4});
  w.add_tensor("blk.0.attn_q.weight", GgmlType::Q8_0, {64, 2});
  w.add_tensor("blk.0.attn_norm.weight", GgmlType::F16, {16});
  w.add_tensor("blk.0.dup_a", GgmlType::F32, {4});
  w.add_tensor("blk.0.dup_b", GgmlType::F32, {4});
  w.add_tensor("blk.1.conv4d.weight", GgmlType::F32, {2, 2, 2, 2});
  // 20 bytes: the file ends with 12 bytes of padding.
  w.add_tensor("output_norm.weight", GgmlType::F32, {5});
  return w;
}

std::string sample_bytes() {
  const GgufWriter w = sample_writer();
  return w.to_bytes(pattern_producer(w));
}

size_t find_unique(const std::string& bytes, std::string_view needle) {
  const size_t first = bytes.find(needle);
  EXPECT_NE(first, std::string::npos) << "not found: " << needle;
  if (first == std::string::npos) return 0;
  EXPECT_EQ(bytes.find(needle, first + 1), std::string::npos) << "found twice: " << needle;
  return first;
}

KeyFields key_fields(const std::string& bytes, std::string_view key) {
  // Search for the length-prefixed form, so a key that is a substring of another is not found.
  const size_t at = find_unique(bytes, le64(key.size()) + std::string(key));
  KeyFields f{};
  f.length = at;
  f.text = at + 8;
  f.type = f.text + key.size();
  f.value = f.type + 4;
  return f;
}

TensorFields tensor_fields(const std::string& bytes, std::string_view name) {
  const size_t at = find_unique(bytes, le64(name.size()) + std::string(name));
  TensorFields f{};
  f.length = at;
  f.text = at + 8;
  f.n_dims = f.text + name.size();
  const auto n_dims = peek<uint32_t>(bytes, f.n_dims);
  size_t p = f.n_dims + 4;
  for (uint32_t d = 0; d < n_dims; ++d, p += 8) f.dims.push_back(p);
  f.type = p;
  f.offset = p + 4;
  return f;
}

void expect_parse_error(const std::string& bytes, std::initializer_list<std::string_view> needles,
                        size_t max_alloc) {
  const std::string name = "corrupt.gguf";
  std::string wanted;
  for (auto n : needles)
    wanted += std::string(wanted.empty() ? "" : ", ") + "'" + std::string(n) + "'";
  reset_peak_allocation();
  try {
    GgufFile::parse(as_span(bytes), name);
    ADD_FAILURE() << "the corrupt file was accepted; expected an error mentioning " << wanted;
  } catch (const Error& e) {
    const size_t peak = peak_allocation();
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(name + ": ", 0), 0u)
        << "message does not start with the file name: " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "message is not one line: " << message;
    for (auto n : needles) {
      EXPECT_NE(message.find(n), std::string::npos)
          << "message does not mention '" << n << "': " << message;
    }
    EXPECT_LE(peak, max_alloc) << "a single allocation of " << peak << " bytes during the parse ("
                               << message << ")";
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-vigil exception: " << e.what();
  }
}

}  // namespace vigil::gguf::testing
