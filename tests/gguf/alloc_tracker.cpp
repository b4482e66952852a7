// Replaces the global operator new of the test binary to record the largest single request, so
// the corrupt-file tests can assert that no claimed size (2^62 items, 2^63-byte strings) was ever
// allocated. Works with and without AddressSanitizer (which keeps checking malloc/free).
#include <atomic>
#include <cstdlib>
#include <new>

#include "gguf_test_util.h"

namespace {
std::atomic<size_t> g_peak{0};

void* allocate(size_t size) {
  size_t seen = g_peak.load(std::memory_order_relaxed);
  while (size > seen && !g_peak.compare_exchange_weak(seen, size, std::memory_order_relaxed)) {
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(size_t size) {
  return allocate(size);
}
void* operator new[](size_t size) {
  return allocate(size);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, size_t) noexcept {
  std::free(p);
}

namespace vigil::gguf::testing {
void reset_peak_allocation() {
  g_peak.store(0, std::memory_order_relaxed);
}
size_t peak_allocation() {
  return g_peak.load(std::memory_order_relaxed);
}
}  // namespace vigil::gguf::testing
