// Load test of the HTTP server (not a pass/fail test; numbers go to docs/SERVER.md):
// N concurrent clients x M short completions against an in-process server with the shared tiny
// model, within a time limit. Prints errors, latency percentiles, throughput, batching and the
// process RSS before and after (memory must stay bounded).
//
//   bench_server_load [--clients 50] [--requests 20] [--max-tokens 8] [--parallel 4]
//                     [--threads 1] [--limit-s 600] [--model PATH]
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "llm/engine.h"
#include "server/server.h"

namespace {

// VmRSS / VmHWM of this process in KiB ("VmRSS" or "VmHWM").
long proc_status_kib(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::atol(line.c_str() + std::string(key).size() + 1);
  }
  return -1;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  int clients = 50, requests = 20, max_tokens = 8, parallel = 4, threads = 1;
  double limit_s = 600;
  std::string model = std::string(VIGIL_SHARED_DIR) + "/testdata/models/llama/model-q8_0.gguf";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const char* v = argv[i + 1];
    if (a == "--clients")
      clients = std::atoi(v);
    else if (a == "--requests")
      requests = std::atoi(v);
    else if (a == "--max-tokens")
      max_tokens = std::atoi(v);
    else if (a == "--parallel")
      parallel = std::atoi(v);
    else if (a == "--threads")
      threads = std::atoi(v);
    else if (a == "--limit-s")
      limit_s = std::atof(v);
    else if (a == "--model")
      model = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }

  vigil::EngineOptions eo;
  eo.model_path = model;
  eo.n_threads = threads;
  eo.n_ctx = 256;
  eo.n_seq = parallel;
  vigil::Engine engine(eo);
  vigil::server::ServerOptions so;
  so.port = 0;
  so.http_threads = clients + 8;
  so.max_queue = static_cast<size_t>(clients) + 8;
  so.max_tokens_limit = 64;
  so.model_name = "bench";
  vigil::server::Server server(so, &engine);
  server.start();
  const long rss_before = proc_status_kib("VmRSS");

  std::mutex mutex;
  std::vector<double> latencies_ms;
  std::atomic<int> errors{0}, done{0};
  std::atomic<bool> out_of_time{false};
  std::string first_error;
  const auto t0 = std::chrono::steady_clock::now();
  const auto deadline = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(limit_s));
  std::vector<std::thread> pool;
  for (int c = 0; c < clients; ++c) {
    pool.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", server.port());
      client.set_read_timeout(static_cast<time_t>(limit_s), 0);
      for (int r = 0; r < requests; ++r) {
        if (std::chrono::steady_clock::now() > deadline) {
          out_of_time = true;
          return;
        }
        const nlohmann::json body = {{"prompt", "Camera " + std::to_string(c) + " reports"},
                                     {"max_tokens", max_tokens},
                                     {"stream", r % 4 == 0},
                                     {"seed", c * 1000 + r}};
        const auto t = std::chrono::steady_clock::now();
        auto res = client.Post("/v1/completions", body.dump(), "application/json");
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
        std::lock_guard lock(mutex);
        if (!res || res->status != 200) {
          ++errors;
          if (first_error.empty()) {
            first_error = (res ? std::to_string(res->status) + " " + res->body
                               : httplib::to_string(res.error())) +
                          (r % 4 == 0 ? " (streamed, " : " (whole, ") + "request " +
                          std::to_string(r) + " of its client)";
          }
        } else {
          latencies_ms.push_back(ms);
          ++done;
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const vigil::server::SchedulerStats s = server.scheduler()->stats();
  if (errors.load() > 0) {
    // What the server saw (status codes per route), to tell server errors from client ones.
    httplib::Client probe("127.0.0.1", server.port());
    if (auto m = probe.Get("/metrics")) {
      size_t pos = 0;
      while ((pos = m->body.find("vigil_http_requests_total{", pos)) != std::string::npos) {
        const size_t end = m->body.find('\n', pos);
        std::printf("server: %s\n", m->body.substr(pos, end - pos).c_str());
        pos = end;
      }
    }
  }
  const long rss_after = proc_status_kib("VmRSS");
  const long rss_peak = proc_status_kib("VmHWM");
  server.stop();

  std::printf(
      "clients %d x requests %d (max_tokens %d, every 4th streamed), parallel %d, "
      "threads %d\n",
      clients, requests, max_tokens, parallel, threads);
  std::printf("ok %d, errors %d%s%s\n", done.load(), errors.load(),
              first_error.empty() ? "" : ", first: ", first_error.c_str());
  std::printf("wall %.1f s%s, %.1f requests/s, %.1f generated tokens/s\n", wall_s,
              out_of_time ? " (time limit reached)" : "", done.load() / wall_s,
              static_cast<double>(s.generated_tokens) / wall_s);
  std::printf("latency ms: p50 %.0f, p95 %.0f, max %.0f\n", percentile(latencies_ms, 0.5),
              percentile(latencies_ms, 0.95), percentile(latencies_ms, 1.0));
  std::printf("batches %llu, max batch %llu, requests in batches >= 2: %llu\n",
              static_cast<unsigned long long>(s.batches),
              static_cast<unsigned long long>(s.max_batch_seen),
              static_cast<unsigned long long>(s.batched_requests));
  std::printf("RSS before %.1f MiB, after %.1f MiB, peak %.1f MiB\n", rss_before / 1024.0,
              rss_after / 1024.0, rss_peak / 1024.0);
  return errors.load() == 0 && !out_of_time ? 0 : 1;
}
