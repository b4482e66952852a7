#include "base/base.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace vigil {
namespace {

TEST(Units, ParsesSizes) {
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_EQ(parse_size("64K"), 64u * 1024);
  EXPECT_EQ(parse_size("768M"), 768ull * 1024 * 1024);
  EXPECT_EQ(parse_size("1G"), 1ull << 30);
  EXPECT_EQ(parse_size("1.5g"), 3ull << 29);
  EXPECT_EQ(parse_size("2GiB"), 2ull << 30);
}

TEST(Units, RejectsGarbageWithTheValue) {
  try {
    parse_size("lots", "--mem-budget");
    FAIL() << "expected an error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--mem-budget"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("lots"), std::string::npos);
  }
  EXPECT_THROW(parse_size("12Q"), UsageError);
  EXPECT_THROW(parse_size(""), UsageError);
}

TEST(Units, FormatsBytes) {
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(1536), "1.50 KiB");
  EXPECT_EQ(format_bytes(3ull << 30), "3.00 GiB");
}

TEST(Printable, EscapesControlAndHighBytes) {
  EXPECT_EQ(printable("ab\ncd\xff"), "ab\\x0acd\\xff");
  EXPECT_EQ(printable(std::string(100, 'x'), 4), "xxxx...");
}

TEST(Files, AtomicWriteThenMap) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("vigil_base_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "a.bin").string();
  write_file_atomic(path, "hello");
  MappedFile m(path);
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(m.data()), m.size()), "hello");
  EXPECT_EQ(read_file(path), "hello");
  write_file_atomic(path, "");
  MappedFile empty(path);
  EXPECT_EQ(empty.size(), 0u);
  std::filesystem::remove_all(dir);
}

TEST(Files, CopiedImageEqualsTheMapping) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("vigil_base_copy_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "w.bin").string();
  // Larger than one 64 MiB read and not a multiple of the 2 MiB rounding, so both the chunked
  // read and the mapping's tail are exercised.
  std::string bytes(65u * 1024 * 1024 + 12345, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 2654435761u) >> 24);
  write_file_atomic(path, bytes);
  MappedFile mapped(path, FileImage::kMap);
  MappedFile copied(path, FileImage::kCopy);
  ASSERT_EQ(copied.size(), bytes.size());
  EXPECT_EQ(std::memcmp(copied.data(), mapped.data(), bytes.size()), 0);
  MappedFile moved = std::move(copied);  // ownership moves with the image
  EXPECT_EQ(copied.data(), nullptr);
  EXPECT_EQ(std::memcmp(moved.data(), bytes.data(), bytes.size()), 0);
  write_file_atomic(path, "");
  EXPECT_EQ(MappedFile(path, FileImage::kCopy).size(), 0u);
  EXPECT_THROW(MappedFile("/nonexistent/vigil/w.bin", FileImage::kCopy), Error);
  std::filesystem::remove_all(dir);
}

TEST(Files, MissingFileNamesThePath) {
  try {
    MappedFile m("/nonexistent/vigil/file.gguf");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/vigil/file.gguf"), std::string::npos);
  }
  EXPECT_THROW(read_file("/nonexistent/x"), Error);
  EXPECT_THROW(MappedFile("/tmp"), Error);  // a directory is not a regular file
}

}  // namespace
}  // namespace vigil

#include <atomic>

#include "base/thread_pool.h"

namespace vigil {
namespace {

TEST(ThreadPool, RunsEveryThreadOnce) {
  for (int n : {1, 2, 3}) {
    ThreadPool pool(n);
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    for (int rep = 0; rep < 200; ++rep) {
      pool.run([&](int t, int total) {
        EXPECT_EQ(total, n);
        hits[static_cast<size_t>(t)].fetch_add(1);
      });
    }
    for (auto& h : hits) EXPECT_EQ(h.load(), 200);
  }
}

TEST(ThreadPool, ParallelForCoversRangeExactlyOnce) {
  ThreadPool pool(3);
  for (int64_t n : {1, 7, 64, 1000}) {
    std::vector<std::atomic<int>> seen(static_cast<size_t>(n));
    pool.parallel_for(n, 8, [&](int64_t b, int64_t e) {
      EXPECT_EQ(b % 8, 0);
      for (int64_t i = b; i < e; ++i) seen[static_cast<size_t>(i)].fetch_add(1);
    });
    for (auto& s : seen) EXPECT_EQ(s.load(), 1);
  }
}

}  // namespace
}  // namespace vigil
