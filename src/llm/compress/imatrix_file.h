// Importance matrices in llama.cpp's legacy `imatrix.dat` format, which `llama-imatrix` writes
// and `llama-quantize --imatrix` reads, so files move freely between the two tools.
//
// File layout (little-endian, no padding):
//   int32 n_entries
//   n_entries times: int32 name_len, name bytes (GGUF tensor name, no terminator),
//                    int32 ncall, int32 nval, float32 values[nval]
//   optional trailer: int32 last_call, int32 dataset_len, dataset bytes
//
// `values` are the sums over `ncall` calls of the squared input activations of each input column
// of the weight (llama.cpp stores the sums; divide by ncall for the mean square). For a merged
// expert tensor nval = n_expert * n_columns.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vigil::compress {

struct ImportanceMatrix {
  struct Entry {
    int32_t ncall = 0;          // number of activation rows (calls) summed into `values`
    std::vector<float> values;  // sums of squared activations per input column
  };
  std::map<std::string, Entry> entries;  // GGUF tensor name -> entry
  int32_t last_call = 0;                 // chunk counter of the collector (trailer)
  std::string dataset;                   // calibration file name (trailer)
};

// Reads `path`. Throws vigil::Error naming the path and the field that is bad (truncated entry,
// negative count, a length larger than what is left of the file, duplicate name).
ImportanceMatrix load_imatrix(const std::string& path);

// Writes `m` to `path` atomically (temp file + rename), including the trailer.
void save_imatrix(const ImportanceMatrix& m, const std::string& path);

}  // namespace vigil::compress
