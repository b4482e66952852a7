// vigil/server: the HTTP front of Vigil (docs/SERVER.md).
//
//   OpenAI-compatible  POST /v1/chat/completions, POST /v1/completions, GET /v1/models,
//                      POST /tokenize, POST /detokenize, GET /health
//   events             GET /api/events, GET /api/events/{id}, GET /api/events/{id}/snapshot.jpg,
//                      GET /api/events/stream (SSE), POST /api/ask, GET /api/audio/{name}.wav,
//                      GET /api/stream.mjpg, GET /api/status, GET /metrics
//   dashboard          GET / and its files (web/, embedded at build time or --web-root)
//
// Use (vigil serve, or inside vigil run --serve):
//   server::Server server(options, &engine);      // engine may be null: no LLM endpoints
//   server.set_event_source(&events);             // optional, before start()
//   server.set_answerer(&answerer);               // optional, before start()
//   server.start();                               // binds; throws vigil::Error on failure
//   ... pipeline: server.live_view().push_frame(annotated_bgr);
//   server.stop();                                // graceful (see below)
//
// Threads: cpp-httplib's pool (`http_threads`) runs handlers; LLM requests go to the
// Scheduler's single engine thread and are decoded in batches. Streams (SSE, MJPEG) hold a pool
// thread each while open.
//
// Security: loopback by default; with `api_key` every endpoint needs it (Authorization: Bearer,
// or the `vigil_key` cookie / `?key=` query for browsers, see docs/SERVER.md), and binding a
// non-loopback address without a key is refused. Bodies over `max_body_bytes` get 413,
// max_tokens over the limit 400. No CORS headers unless `cors_origin` is set.
//
// Shutdown (stop()): new requests get 503, queued and running generations get `drain_s` seconds
// to finish and are then cancelled (their clients receive what was generated, finish_reason
// "stop"), event and video streams end, the listener closes and the pool joins.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "llm/engine.h"
#include "server/ask.h"
#include "server/events.h"
#include "server/live_view.h"
#include "server/scheduler.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace vigil::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                   // 0 = any free port (see port())
  std::string api_key;               // "" = no authentication (loopback only)
  std::string cors_origin;           // "" = no CORS headers; "*" or "http://host:port"
  size_t max_body_bytes = 4u << 20;  // request bodies (WAV uploads included)
  int max_tokens_limit = 512;        // per request
  int default_max_tokens = 128;
  size_t max_queue = 64;             // LLM requests waiting; beyond: 503
  int max_batch = 0;                 // decoded together; 0 = the engine's n_seq
  int http_threads = 64;             // connections served at once (streams hold one each)
  std::string web_root;              // "" = the embedded dashboard
  std::string model_name = "vigil";  // "id" in /v1/models and responses
  double drain_s = 5;                // shutdown: time generations get to finish
  int max_page = 200;                // GET /api/events limit cap
  size_t audio_cache = 16;           // spoken answers kept for GET /api/audio/
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(const std::string& host);

class Server {
 public:
  // Throws vigil::UsageError for an unsafe configuration (non-loopback without api_key).
  Server(ServerOptions options, Engine* engine);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Before start(). The objects must outlive the server.
  void set_event_source(EventSource* source);
  void set_answerer(QuestionAnswerer* answerer);
  // Extra lines for GET /api/status ("site", "run", ...), before start().
  void set_status_info(nlohmann::json info);

  // Binds and starts serving on a background thread. Throws vigil::Error when the address
  // cannot be bound.
  void start();
  int port() const { return port_; }
  std::string url() const;  // http://host:port

  // Graceful shutdown (see above). Idempotent; safe from any thread but a handler's.
  void stop();
  bool running() const { return running_.load(); }

  LiveView& live_view() { return live_view_; }
  Scheduler* scheduler() { return scheduler_.get(); }
  const ServerOptions& options() const { return options_; }

 private:
  struct Impl;
  void install_routes();

  ServerOptions options_;
  Engine* engine_;
  std::unique_ptr<Scheduler> scheduler_;
  EventSource* events_ = nullptr;
  QuestionAnswerer* answerer_ = nullptr;
  LiveView live_view_;
  std::unique_ptr<httplib::Server> http_;
  std::unique_ptr<Impl> impl_;
  std::thread listen_thread_;
  std::atomic<bool> running_{false};
  std::atomic<bool> stopping_{false};
  std::mutex stop_mutex_;
  int port_ = 0;
};

}  // namespace vigil::server
