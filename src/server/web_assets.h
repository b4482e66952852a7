// The table of embedded dashboard files, defined by the generated web_assets.cpp (see
// embed_web.cmake). Use static_files.h instead of this.
#pragma once

#include <cstddef>

namespace vigil::server::embedded {

struct File {
  const char* path;  // "/index.html"
  const unsigned char* data;
  size_t size;
};

extern const File kFiles[];
extern const size_t kFileCount;

}  // namespace vigil::server::embedded
