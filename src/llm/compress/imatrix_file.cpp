#include "llm/compress/imatrix_file.h"

#include <cstring>
#include <limits>

#include "base/error.h"
#include "base/file.h"

namespace vigil::compress {
namespace {

// Sequential little-endian reader over a mapped file that checks every length against what is
// left before reading or allocating.
class Cursor {
 public:
  Cursor(const MappedFile& file) : path_(file.path()), data_(file.data()), size_(file.size()) {}

  size_t left() const { return size_ - pos_; }
  bool at_end() const { return pos_ == size_; }

  int32_t read_i32(const std::string& field) {
    if (left() < 4) fail("{}: truncated at byte {}: expected int32 {}", path_, pos_, field);
    int32_t v;
    std::memcpy(&v, data_ + pos_, 4);
    pos_ += 4;
    return v;
  }
  // A non-negative count whose `elem_size`-byte items must fit in the rest of the file.
  size_t read_count(const std::string& field, size_t elem_size) {
    const int32_t n = read_i32(field);
    if (n < 0) fail("{}: {} is negative ({})", path_, field, n);
    if (static_cast<size_t>(n) > left() / elem_size) {
      fail("{}: {} = {} needs {} bytes but only {} are left", path_, field, n,
           static_cast<size_t>(n) * elem_size, left());
    }
    return static_cast<size_t>(n);
  }
  std::string read_bytes(size_t n) {
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }
  void read_floats(float* dst, size_t n) {
    std::memcpy(dst, data_ + pos_, n * sizeof(float));
    pos_ += n * sizeof(float);
  }

 private:
  const std::string& path_;
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

void append_i32(std::string& out, int32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);
  out.append(b, 4);
}

int32_t checked_i32(size_t n, const std::string& what) {
  if (n > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    fail("imatrix: {} too large for the file format ({})", what, n);
  }
  return static_cast<int32_t>(n);
}

}  // namespace

ImportanceMatrix load_imatrix(const std::string& path) {
  const MappedFile file(path);
  Cursor in(file);
  ImportanceMatrix m;
  // Smallest entry: name_len + ncall + nval = 12 bytes (an empty name is rejected below).
  const size_t n_entries = in.read_count("n_entries", 12);
  if (n_entries == 0) fail("{}: n_entries is 0: expected at least one tensor", path);
  for (size_t i = 0; i < n_entries; ++i) {
    const std::string field = fmt::format("entry {}", i);
    const size_t name_len = in.read_count(field + " name length", 1);
    if (name_len == 0) fail("{}: {} has an empty tensor name", path, field);
    std::string name = in.read_bytes(name_len);
    const int32_t ncall = in.read_i32(fmt::format("ncall of '{}'", printable(name)));
    if (ncall < 0) fail("{}: ncall of '{}' is negative ({})", path, printable(name), ncall);
    const size_t nval = in.read_count(fmt::format("nval of '{}'", printable(name)), sizeof(float));
    if (nval == 0) fail("{}: nval of '{}' is 0", path, printable(name));
    ImportanceMatrix::Entry entry;
    entry.ncall = ncall;
    entry.values.resize(nval);
    in.read_floats(entry.values.data(), nval);
    if (!m.entries.emplace(name, std::move(entry)).second) {
      fail("{}: tensor '{}' appears twice", path, printable(name));
    }
  }
  // Optional trailer (llama.cpp writes it since mid-2024; older files end here).
  if (!in.at_end()) {
    m.last_call = in.read_i32("last_call");
    const size_t len = in.read_count("dataset name length", 1);
    m.dataset = in.read_bytes(len);
    if (!in.at_end()) fail("{}: {} unexpected bytes after the dataset name", path, in.left());
  }
  return m;
}

void save_imatrix(const ImportanceMatrix& m, const std::string& path) {
  std::string out;
  size_t total = 4 + 8 + m.dataset.size();
  for (const auto& [name, e] : m.entries) total += 12 + name.size() + e.values.size() * 4;
  out.reserve(total);
  append_i32(out, checked_i32(m.entries.size(), "number of entries"));
  for (const auto& [name, e] : m.entries) {
    append_i32(out, checked_i32(name.size(), "tensor name length"));
    out.append(name);
    append_i32(out, e.ncall);
    append_i32(out, checked_i32(e.values.size(), "nval"));
    out.append(reinterpret_cast<const char*>(e.values.data()), e.values.size() * sizeof(float));
  }
  append_i32(out, m.last_call);
  append_i32(out, checked_i32(m.dataset.size(), "dataset name length"));
  out.append(m.dataset);
  write_file_atomic(path, out);
}

}  // namespace vigil::compress
