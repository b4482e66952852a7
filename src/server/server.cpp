#include "server/server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <httplib.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <deque>
#include <filesystem>
#include <map>

#include "base/error.h"
#include "base/file.h"
#include "server/metrics.h"
#include "server/openai.h"
#include "server/static_files.h"

namespace vigil::server {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kStreamPoll = std::chrono::milliseconds(250);  // stream wait per provider call
constexpr double kSseHeartbeatS = 5;  // comment line to idle SSE clients (detects departures)
constexpr size_t kSseBacklog = 1000;  // notices queued per slow SSE client, oldest dropped

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) {
  if (e.status == 401) res.set_header("WWW-Authenticate", "Bearer");
  send_json(res, e.status, error_body(e));
}

// Constant-time comparison, so the key cannot be guessed byte by byte from response times.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned>(static_cast<unsigned char>(a[i]) ^
                                  static_cast<unsigned char>(b.empty() ? 0 : b[i % b.size()]));
  }
  return diff == 0;
}

std::string cookie_value(const httplib::Request& req, std::string_view name) {
  const std::string cookies = req.get_header_value("Cookie");
  size_t pos = 0;
  while (pos < cookies.size()) {
    size_t end = cookies.find(';', pos);
    if (end == std::string::npos) end = cookies.size();
    std::string_view item(cookies.data() + pos, end - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    if (item.size() > name.size() && item.substr(0, name.size()) == name &&
        item[name.size()] == '=') {
      return std::string(item.substr(name.size() + 1));
    }
    pos = end + 1;
  }
  return "";
}

// The route family of a path, for metrics labels (bounded cardinality).
std::string route_of(const std::string& path) {
  static const char* const kExact[] = {"/v1/chat/completions",
                                       "/v1/completions",
                                       "/v1/models",
                                       "/tokenize",
                                       "/detokenize",
                                       "/health",
                                       "/metrics",
                                       "/api/events/stream",
                                       "/api/ask",
                                       "/api/stream.mjpg",
                                       "/api/status",
                                       "/api/events"};
  for (const char* p : kExact) {
    if (path == p) return p;
  }
  if (path.rfind("/api/events/", 0) == 0) return "/api/events/{id}";
  if (path.rfind("/api/audio/", 0) == 0) return "/api/audio/{name}";
  if (path.rfind("/api/", 0) == 0 || path.rfind("/v1/", 0) == 0) return "other";
  return "static";
}

bool is_stream_route(const std::string& route) {
  return route == "/api/events/stream" || route == "/api/stream.mjpg";
}

// cpp-httplib 0.11 tells a handler nothing about its connection, so a handler waiting for the
// model finds its socket itself, to notice a client that hung up: the fd whose local and peer
// addresses are the request's. Linux only (/proc/self/fd); -1 when not found.
int find_connection_fd(const httplib::Request& req) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int found = -1;
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') continue;
    struct stat st {};
    if (fstat(static_cast<int>(fd), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_storage local{}, peer{};
    socklen_t ll = sizeof(local), pl = sizeof(peer);
    if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&local), &ll) != 0) continue;
    if (getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &pl) != 0) continue;
    auto port_of = [](const sockaddr_storage& a) -> int {
      if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
      if (a.ss_family == AF_INET6) {
        return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
      }
      return -1;
    };
    auto addr_of = [](const sockaddr_storage& a) -> std::string {
      char buf[INET6_ADDRSTRLEN] = {};
      if (a.ss_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, buf, sizeof(buf));
      } else if (a.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, buf, sizeof(buf));
      }
      return buf;
    };
    if (port_of(local) == req.local_port && port_of(peer) == req.remote_port &&
        addr_of(peer) == req.remote_addr) {
      found = static_cast<int>(fd);
      break;
    }
  }
  closedir(dir);
  return found;
}

// True when the peer has closed its side (a read would return end of file) or the socket failed.
bool peer_gone(int fd) {
  if (fd < 0) return false;
  char c = 0;
  const ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return true;
  if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  return false;
}

double query_number(const httplib::Request& req, const char* key, double fallback) {
  if (!req.has_param(key)) return fallback;
  const std::string v = req.get_param_value(key);
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || end != v.c_str() + v.size() || !std::isfinite(x)) {
    throw ApiError(400, fmt::format("'{}': expected a number, got \"{}\"", key, printable(v)),
                   "invalid_request_error", key, "invalid_value");
  }
  return x;
}

// Percent-encodes everything but unreserved characters (RFC 3986), so an id with '/' stays one
// path segment in a URL.
std::string encode_segment(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

bool looks_like_wav(std::string_view bytes) {
  return bytes.size() >= 12 && bytes.substr(0, 4) == "RIFF" && bytes.substr(8, 4) == "WAVE";
}

}  // namespace

// cpp-httplib 0.11 listens with a backlog of 5 (a compile-time constant of the shared library):
// a burst of clients overflows it and the kernel drops their connections. The listening socket
// is a protected member, so a subclass reaches it to raise the backlog after binding.
class HttpServer : public httplib::Server {
 public:
  void raise_backlog() {
    const socket_t sock = svr_sock_.load();
    if (sock != INVALID_SOCKET) ::listen(sock, SOMAXCONN);
  }
};

bool is_loopback_host(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  in_addr a{};
  if (inet_pton(AF_INET, host.c_str(), &a) == 1) return (ntohl(a.s_addr) >> 24) == 127;
  return false;
}

// Shared state of the handlers: streams to wake at shutdown, spoken answers, HTTP metrics.
struct Server::Impl {
  std::mutex mutex;
  std::condition_variable wake;  // streams wait here too, woken at shutdown
  int open_streams = 0;

  std::deque<std::pair<std::string, std::string>> audio;  // (name, WAV bytes), newest last

  std::mutex metrics_mutex;
  std::map<std::pair<std::string, int>, uint64_t> requests;  // (route, status) -> count
  Histogram http_latency{Histogram::latency_buckets()};
  std::map<std::string, uint64_t> notices;  // kind -> published count
  int notice_handle = 0;
  Clock::time_point started = Clock::now();
  json status_info = json::object();
};

namespace {
thread_local Clock::time_point t_request_start;
}  // namespace

Server::Server(ServerOptions options, Engine* engine)
    : options_(std::move(options)), engine_(engine), impl_(std::make_unique<Impl>()) {
  if (!is_loopback_host(options_.host) && options_.api_key.empty()) {
    fail_usage("--host {}: not a loopback address; serving other machines needs --api-key",
               options_.host);
  }
  if (options_.max_tokens_limit < 1) fail_usage("--max-tokens-limit must be at least 1");
  if (options_.http_threads < 2) fail_usage("--http-threads must be at least 2");
  if (!options_.web_root.empty() && !std::filesystem::is_directory(options_.web_root)) {
    fail_usage("--web-root {}: not a folder", options_.web_root);
  }
  if (engine_ != nullptr) {
    scheduler_ = std::make_unique<Scheduler>(
        *engine_, SchedulerOptions{options_.max_queue, options_.max_batch});
  }
}

Server::~Server() {
  stop();
}

void Server::set_event_source(EventSource* source) {
  events_ = source;
}
void Server::set_answerer(QuestionAnswerer* answerer) {
  answerer_ = answerer;
}
void Server::set_status_info(json info) {
  impl_->status_info = std::move(info);
}

std::string Server::url() const {
  const bool v6 = options_.host.find(':') != std::string::npos && options_.host.front() != '[';
  return fmt::format("http://{}:{}", v6 ? "[" + options_.host + "]" : options_.host, port_);
}

void Server::start() {
  if (running_.load()) return;
  // A client that hangs up mid-stream must not kill the process with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  auto http = std::make_unique<HttpServer>();
  HttpServer* http_raw = http.get();
  http_ = std::move(http);
  const int threads = options_.http_threads;
  http_->new_task_queue = [threads] {
    return new httplib::ThreadPool(static_cast<size_t>(threads));
  };
  http_->set_payload_max_length(options_.max_body_bytes);
  http_->set_keep_alive_timeout(5);
  http_->set_read_timeout(30, 0);
  http_->set_write_timeout(30, 0);
  install_routes();
  std::string bind_host = options_.host;
  if (bind_host.size() > 2 && bind_host.front() == '[')
    bind_host = bind_host.substr(1, bind_host.size() - 2);
  if (options_.port == 0) {
    port_ = http_->bind_to_any_port(bind_host);
    if (port_ <= 0) fail("--host {}: cannot bind any port", options_.host);
  } else {
    if (!http_->bind_to_port(bind_host, options_.port)) {
      fail("--host {} --port {}: cannot bind (in use, or not an address of this machine)",
           options_.host, options_.port);
    }
    port_ = options_.port;
  }
  if (events_ != nullptr) {
    impl_->notice_handle = events_->subscribe([impl = impl_.get()](const EventNotice& n) {
      std::lock_guard lock(impl->metrics_mutex);
      ++impl->notices[n.kind];
    });
  }
  http_raw->raise_backlog();
  running_.store(true);
  listen_thread_ = std::thread([this] { http_->listen_after_bind(); });
  spdlog::info("server: listening on {}", url());
}

void Server::stop() {
  std::lock_guard stop_lock(stop_mutex_);
  if (events_ != nullptr && impl_->notice_handle != 0) {
    events_->unsubscribe(impl_->notice_handle);
    impl_->notice_handle = 0;
  }
  if (!running_.load()) {
    if (scheduler_) scheduler_->stop(0);
    return;
  }
  stopping_.store(true);
  // Generations first: they get drain_s to finish, their clients receive the end of the text.
  if (scheduler_) scheduler_->stop(options_.drain_s);
  // Then the open streams end (SSE, MJPEG), and the listener closes; the pool joins.
  live_view_.close();
  { std::lock_guard lock(impl_->mutex); }
  impl_->wake.notify_all();
  http_->stop();
  if (listen_thread_.joinable()) listen_thread_.join();
  running_.store(false);
  spdlog::info("server: stopped");
}

void Server::install_routes() {
  httplib::Server& http = *http_;
  Impl& impl = *impl_;
  const ServerOptions& opt = options_;

  // Credentials: the Bearer header (API clients), or the cookie / ?key= a browser can send
  // with <img> and EventSource requests, which cannot carry headers.
  auto authorized = [this](const httplib::Request& req) {
    if (options_.api_key.empty()) return true;
    const std::string auth = req.get_header_value("Authorization");
    if (auth.rfind("Bearer ", 0) == 0 && same_secret(auth.substr(7), options_.api_key)) {
      return true;
    }
    const std::string cookie = cookie_value(req, "vigil_key");
    if (!cookie.empty() && same_secret(cookie, options_.api_key)) return true;
    return req.has_param("key") && same_secret(req.get_param_value("key"), options_.api_key);
  };

  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
  // Every route goes through here: authentication, shutdown, errors in the OpenAI shape.
  auto guard = [this, authorized](std::string route, Handler handler) {
    return [this, authorized, route = std::move(route), handler = std::move(handler)](
               const httplib::Request& req, httplib::Response& res) {
      try {
        if (!authorized(req)) {
          throw ApiError(401, "missing or wrong API key (send Authorization: Bearer <key>)",
                         "authentication_error", "", "invalid_api_key");
        }
        if (stopping_.load() && route != "/health") {
          throw ApiError(503, "the server is shutting down", "server_error", "", "shutting_down");
        }
        handler(req, res);
      } catch (const ApiError& e) {
        send_error(res, e);
      } catch (const Overloaded& e) {
        res.set_header("Retry-After", "1");
        send_error(res, ApiError(503, e.what(), "server_error", "", "overloaded"));
      } catch (const UsageError& e) {
        send_error(res, ApiError(400, e.what()));
      } catch (const Error& e) {
        send_error(res, ApiError(400, e.what()));
      } catch (const std::exception& e) {
        spdlog::error("server: {} {}: {}", req.method, req.path, e.what());
        send_error(res, ApiError(500, e.what(), "server_error"));
      }
    };
  };

  auto need_engine = [this]() -> Engine& {
    if (engine_ == nullptr || !scheduler_) {
      throw ApiError(503, "no language model is loaded in this server", "server_error", "",
                     "model_not_loaded");
    }
    return *engine_;
  };

  http.set_pre_routing_handler([this, &opt](const httplib::Request& req, httplib::Response& res) {
    t_request_start = Clock::now();
    if (!opt.cors_origin.empty() && req.method == "OPTIONS") {
      // CORS preflight: browsers send it without credentials.
      res.status = 204;
      return httplib::Server::HandlerResponse::Handled;
    }
    (void)this;
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http.set_post_routing_handler([&opt](const httplib::Request& req, httplib::Response& res) {
    res.set_header("X-Content-Type-Options", "nosniff");
    if (!opt.cors_origin.empty()) {
      res.set_header("Access-Control-Allow-Origin", opt.cors_origin);
      res.set_header("Vary", "Origin");
      if (req.method == "OPTIONS") {
        res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
        res.set_header("Access-Control-Max-Age", "600");
      }
    }
  });
  // Statuses cpp-httplib sets itself (404 no route, 413 body too large, 400 unparsable request)
  // get the OpenAI error body too; bodies our handlers wrote are kept.
  http.set_error_handler([authorized](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty() || res.is_chunked_content_provider_ || res.content_length_ > 0) return;
    if (res.status == 404 && !authorized(req)) {
      res.set_header("WWW-Authenticate", "Bearer");
      send_json(
          res, 401,
          error_body("missing or wrong API key", "authentication_error", "", "invalid_api_key"));
      return;
    }
    switch (res.status) {
      case 404:
        send_json(
            res, 404,
            error_body(fmt::format("no route for {} {}", req.method, printable(req.path, 200)),
                       "invalid_request_error", "", "not_found"));
        break;
      case 413:
        send_json(res, 413,
                  error_body("the request body is larger than this server accepts",
                             "invalid_request_error", "", "request_too_large"));
        break;
      default:
        send_json(res, res.status,
                  error_body(fmt::format("HTTP {}", res.status),
                             res.status >= 500 ? "server_error" : "invalid_request_error"));
    }
  });
  http.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        send_json(res, 500, error_body(what, "server_error"));
      });
  http.set_logger([&impl](const httplib::Request& req, const httplib::Response& res) {
    const std::string route = route_of(req.path);
    if (!is_stream_route(route)) impl.http_latency.observe(seconds_since(t_request_start));
    std::lock_guard lock(impl.metrics_mutex);
    ++impl.requests[{route, res.status}];
  });

  // ---- OpenAI-compatible ----------------------------------------------------------------------

  http.Get("/health", guard("/health", [this](const httplib::Request&, httplib::Response& res) {
             const bool down = stopping_.load();
             json body = {
                 {"status", down ? "shutting_down" : "ok"},
                 {"model", engine_ != nullptr ? json(options_.model_name) : json(nullptr)}};
             if (scheduler_) body["queue"] = scheduler_->stats().queue_depth;
             send_json(res, down ? 503 : 200, body);
           }));

  http.Get("/v1/models",
           guard("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
             json data = json::array();
             if (engine_ != nullptr) {
               data.push_back(
                   {{"id", options_.model_name},
                    {"object", "model"},
                    {"created", unix_now()},
                    {"owned_by", "vigil"},
                    {"meta",
                     {{"n_ctx", engine_->context().n_ctx()},
                      {"n_vocab", engine_->tokenizer().n_vocab()},
                      {"n_seq", engine_->context().n_seq()},
                      {"chat_format", std::string(chat_format_name(engine_->chat_format()))}}}});
             }
             send_json(res, 200, {{"object", "list"}, {"data", data}});
           }));

  http.Post("/tokenize",
            guard("/tokenize", [need_engine](const httplib::Request& req, httplib::Response& res) {
              Engine& engine = need_engine();
              const json body = parse_json_body(req.body);
              auto content = body.find("content");
              if (content == body.end() || !content->is_string()) {
                throw ApiError(400, "'content': expected a string", "invalid_request_error",
                               "content", content == body.end() ? "missing_field" : "invalid_type");
              }
              auto flag = [&](const char* key, bool fallback) {
                auto it = body.find(key);
                if (it == body.end() || it->is_null()) return fallback;
                if (!it->is_boolean()) {
                  throw ApiError(400, fmt::format("'{}': expected a boolean", key),
                                 "invalid_request_error", key, "invalid_type");
                }
                return it->get<bool>();
              };
              const bool add_special = flag("add_special", false);
              const bool parse_special = flag("parse_special", true);
              const bool with_pieces = flag("with_pieces", false);
              const Tokenizer& tok = engine.tokenizer();
              const std::vector<int32_t> ids =
                  tok.encode(content->get<std::string>(), add_special, parse_special);
              json tokens = json::array();
              for (int32_t id : ids) {
                if (with_pieces) {
                  tokens.push_back({{"id", id}, {"piece", tok.token_to_piece(id)}});
                } else {
                  tokens.push_back(id);
                }
              }
              send_json(res, 200, {{"tokens", tokens}});
            }));

  http.Post(
      "/detokenize",
      guard("/detokenize", [need_engine](const httplib::Request& req, httplib::Response& res) {
        Engine& engine = need_engine();
        const json body = parse_json_body(req.body);
        auto tokens = body.find("tokens");
        if (tokens == body.end() || !tokens->is_array()) {
          throw ApiError(400, "'tokens': expected an array of token ids", "invalid_request_error",
                         "tokens", tokens == body.end() ? "missing_field" : "invalid_type");
        }
        const int32_t n_vocab = engine.tokenizer().n_vocab();
        std::vector<int32_t> ids;
        for (size_t i = 0; i < tokens->size(); ++i) {
          const json& t = (*tokens)[i];
          if (!t.is_number_integer()) {
            throw ApiError(400, fmt::format("'tokens[{}]': expected an integer", i),
                           "invalid_request_error", "tokens", "invalid_type");
          }
          const int64_t id = t.get<int64_t>();
          if (id < 0 || id >= n_vocab) {
            throw ApiError(
                400, fmt::format("'tokens[{}]': {} is not a token id (0..{})", i, id, n_vocab - 1),
                "invalid_request_error", "tokens", "invalid_value");
          }
          ids.push_back(static_cast<int32_t>(id));
        }
        send_json(res, 200, {{"content", replace_invalid_utf8(engine.tokenizer().decode(ids))}});
      }));

  auto completions = [this, need_engine, &opt](bool chat) {
    return [this, need_engine, &opt, chat](const httplib::Request& req, httplib::Response& res) {
      Engine& engine = need_engine();
      const json body = parse_json_body(req.body);
      CompletionLimits limits;
      limits.max_tokens_limit = opt.max_tokens_limit;
      limits.default_max_tokens = opt.default_max_tokens;
      CompletionRequest cr = parse_completion_request(body, chat, limits);

      const Tokenizer& tok = engine.tokenizer();
      GenerateRequest gr;
      std::string prompt_text;
      if (chat) {
        prompt_text = engine.apply_chat_template(cr.messages);
        gr.prompt_ids = tok.encode(prompt_text, /*add_special=*/false, /*parse_special=*/true);
      } else if (!cr.prompt_tokens.empty()) {
        for (size_t i = 0; i < cr.prompt_tokens.size(); ++i) {
          if (cr.prompt_tokens[i] >= tok.n_vocab()) {
            throw ApiError(
                400, fmt::format("'prompt[{}]': {} is not a token id", i, cr.prompt_tokens[i]),
                "invalid_request_error", "prompt", "invalid_value");
          }
        }
        gr.prompt_ids = cr.prompt_tokens;
      } else {
        prompt_text = cr.prompt;
        gr.prompt_ids = tok.encode(prompt_text, /*add_special=*/true, /*parse_special=*/true);
      }
      if (gr.prompt_ids.empty()) {
        throw ApiError(400, "the prompt is empty (no tokens)", "invalid_request_error",
                       chat ? "messages" : "prompt", "empty_prompt");
      }
      const int64_t n_ctx = engine.context().n_ctx();
      const auto n_prompt = static_cast<int64_t>(gr.prompt_ids.size());
      if (n_prompt + cr.max_tokens > n_ctx) {
        throw ApiError(400,
                       fmt::format("this model's context holds {} tokens; the prompt has {} and "
                                   "max_tokens asks for {} more",
                                   n_ctx, n_prompt, cr.max_tokens),
                       "invalid_request_error", chat ? "messages" : "prompt",
                       "context_length_exceeded");
      }
      gr.max_tokens = cr.max_tokens;
      gr.sampling = cr.sampling;
      gr.stop = cr.stop;
      gr.add_bos = false;  // prompt_ids are final
      const std::string echo =
          cr.echo ? (prompt_text.empty() ? tok.decode(gr.prompt_ids) : prompt_text) : std::string();

      std::shared_ptr<Job> job = scheduler_->submit(std::move(gr));
      const std::string id = random_id(chat ? "chatcmpl-" : "cmpl-");
      const int64_t created = unix_now();
      const std::string model = options_.model_name;

      // The connection is watched while the model works: a client that hangs up cancels.
      const int fd = find_connection_fd(req);
      if (!cr.stream) {
        std::string text = echo;
        while (!job->next(&text, kStreamPoll)) {
          if (peer_gone(fd)) {
            job->cancel();
            while (!job->next(&text, kStreamPoll)) {
            }
            res.status = 499;  // nginx's "client closed request"; never seen by the client
            return;
          }
        }
        if (!job->error().empty()) throw ApiError(500, job->error(), "server_error");
        const GenerateResult& r = job->result();
        Usage usage{n_prompt, static_cast<int64_t>(r.tokens.size())};
        send_json(res, 200,
                  completion_response(id, created, model, chat, text, finish_reason(r.stop_reason),
                                      usage));
        return;
      }

      struct StreamState {
        std::shared_ptr<Job> job;
        int fd = -1;
        std::string id, model, echo;
        int64_t created = 0, n_prompt = 0;
        bool chat = false, include_usage = false, first = true;
        Clock::time_point last_write = Clock::now();
      };
      auto st = std::make_shared<StreamState>();
      st->job = job;
      st->fd = fd;
      st->id = id;
      st->model = model;
      st->echo = echo;
      st->created = created;
      st->n_prompt = n_prompt;
      st->chat = chat;
      st->include_usage = cr.include_usage;
      res.set_header("Cache-Control", "no-cache");
      res.set_header("X-Accel-Buffering", "no");
      res.set_chunked_content_provider(
          "text/event-stream",
          [st](size_t, httplib::DataSink& sink) {
            auto write = [&](const std::string& s) {
              st->last_write = Clock::now();
              return sink.write(s.data(), s.size());
            };
            if (st->first && (st->chat || !st->echo.empty())) {
              // The role (chat) or the echoed prompt goes out before the model starts.
              if (!write(sse_data(completion_chunk(st->id, st->created, st->model, st->chat,
                                                   st->echo, "", true)))) {
                st->job->cancel();
                return false;
              }
              st->first = false;
            }
            std::string text;
            const bool done = st->job->next(&text, kStreamPoll);
            if (!done && text.empty() && peer_gone(st->fd)) {
              st->job->cancel();  // gone while the model had nothing to say (queued, prefill)
              return false;
            }
            if (!text.empty()) {
              if (!write(sse_data(completion_chunk(st->id, st->created, st->model, st->chat, text,
                                                   "", st->first)))) {
                st->job->cancel();
                return false;
              }
              st->first = false;
            }
            if (!done) {
              if (text.empty() && seconds_since(st->last_write) > kSseHeartbeatS) {
                // An SSE comment: ignored by clients, and a failed write means the client left.
                if (!write(": keep-alive\n\n")) {
                  st->job->cancel();
                  return false;
                }
              }
              return true;
            }
            std::string tail;
            if (!st->job->error().empty()) {
              tail += sse_data(error_body(st->job->error(), "server_error"));
            } else {
              const GenerateResult& r = st->job->result();
              tail += sse_data(completion_chunk(st->id, st->created, st->model, st->chat, "",
                                                finish_reason(r.stop_reason), false));
              if (st->include_usage) {
                tail +=
                    sse_data(usage_chunk(st->id, st->created, st->model, st->chat,
                                         {st->n_prompt, static_cast<int64_t>(r.tokens.size())}));
              }
            }
            tail += "data: [DONE]\n\n";
            write(tail);
            sink.done();
            return true;
          },
          [st](bool) { st->job->cancel(); });  // no-op when finished; a departed client cancels
    };
  };
  http.Post("/v1/completions", guard("/v1/completions", completions(false)));
  http.Post("/v1/chat/completions", guard("/v1/chat/completions", completions(true)));

  // ---- events ---------------------------------------------------------------------------------

  auto need_events = [this]() -> EventSource& {
    if (events_ == nullptr) {
      throw ApiError(404,
                     "this server has no event store (start it with --config, or inside "
                     "vigil run --serve)",
                     "invalid_request_error", "", "no_event_source");
    }
    return *events_;
  };
  // Adds the URLs a client needs (the server's, never a file path).
  auto with_urls = [](json event) {
    const std::string id = event.value("id", "");
    if (event.value("has_snapshot", false)) {
      event["snapshot_url"] = "/api/events/" + encode_segment(id) + "/snapshot.jpg";
    } else {
      event["snapshot_url"] = nullptr;
    }
    return event;
  };

  http.Get("/api/events",
           guard("/api/events", [need_events, with_urls, &opt](const httplib::Request& req,
                                                               httplib::Response& res) {
             EventSource& source = need_events();
             EventFilter f;
             f.since_unix = query_number(req, "since", 0);
             f.until_unix = query_number(req, "until", 0);
             f.zone = req.get_param_value("zone");
             f.rule = req.get_param_value("rule");
             f.type = req.get_param_value("type");
             f.object_class = req.get_param_value("class");
             const double offset = query_number(req, "offset", 0);
             const double limit = query_number(req, "limit", 50);
             if (offset < 0 || offset != std::floor(offset)) {
               throw ApiError(400, "'offset': expected a whole number >= 0",
                              "invalid_request_error", "offset", "invalid_value");
             }
             if (limit < 1 || limit != std::floor(limit)) {
               throw ApiError(400, "'limit': expected a whole number >= 1", "invalid_request_error",
                              "limit", "invalid_value");
             }
             f.offset = static_cast<int64_t>(offset);
             f.limit = std::min<int64_t>(static_cast<int64_t>(limit), opt.max_page);
             EventPage page = source.list(f);
             json events = json::array();
             for (auto& e : page.events) events.push_back(with_urls(std::move(e)));
             const int64_t next = f.offset + static_cast<int64_t>(events.size());
             send_json(res, 200,
                       {{"events", events},
                        {"total", page.total},
                        {"offset", f.offset},
                        {"limit", f.limit},
                        {"next_offset", next < page.total ? json(next) : json(nullptr)},
                        {"zones", source.zone_counts()}});
           }));

  http.Get("/api/events/stream",
           guard("/api/events/stream", [this, need_events, with_urls, &impl](
                                           const httplib::Request& req, httplib::Response& res) {
             EventSource& source = need_events();
             struct Client {
               std::mutex mutex;
               std::deque<EventNotice> queue;
               uint64_t dropped = 0;
               int handle = 0;
               bool hello = true;
               Clock::time_point last_write = Clock::now();
             };
             auto client = std::make_shared<Client>();
             const int fd = find_connection_fd(req);
             Impl* pimpl = &impl;
             client->handle = source.subscribe([client, pimpl](const EventNotice& n) {
               {
                 std::lock_guard lock(client->mutex);
                 client->queue.push_back(n);
                 if (client->queue.size() > kSseBacklog) {
                   client->queue.pop_front();
                   ++client->dropped;
                 }
               }
               pimpl->wake.notify_all();
             });
             {
               std::lock_guard lock(impl.mutex);
               ++impl.open_streams;
             }
             res.set_header("Cache-Control", "no-cache");
             res.set_header("X-Accel-Buffering", "no");
             res.set_chunked_content_provider(
                 "text/event-stream",
                 [this, client, pimpl, with_urls, fd](size_t, httplib::DataSink& sink) {
                   auto write = [&](const std::string& s) {
                     client->last_write = Clock::now();
                     return sink.write(s.data(), s.size());
                   };
                   if (client->hello) {
                     client->hello = false;
                     if (!write("retry: 2000\nevent: hello\ndata: {}\n\n")) return false;
                   }
                   std::deque<EventNotice> batch;
                   {
                     std::unique_lock lock(pimpl->mutex);
                     pimpl->wake.wait_for(lock, kStreamPoll, [&] {
                       std::lock_guard ql(client->mutex);
                       return !client->queue.empty() || stopping_.load();
                     });
                   }
                   {
                     std::lock_guard ql(client->mutex);
                     batch.swap(client->queue);
                   }
                   std::string out;
                   for (auto& n : batch) {
                     json data =
                         n.kind == "event" ? with_urls(std::move(n.data)) : std::move(n.data);
                     out += "event: " + n.kind +
                            "\ndata: " + data.dump(-1, ' ', false, json::error_handler_t::replace) +
                            "\n\n";
                   }
                   if (out.empty() && peer_gone(fd)) return false;  // the client left
                   if (out.empty() && seconds_since(client->last_write) > kSseHeartbeatS) {
                     out = ": keep-alive\n\n";
                   }
                   if (!out.empty() && !write(out)) return false;
                   if (stopping_.load()) {
                     write("event: bye\ndata: {}\n\n");
                     sink.done();
                   }
                   return true;
                 },
                 [this, client, pimpl](bool) {
                   if (events_ != nullptr) events_->unsubscribe(client->handle);
                   std::lock_guard lock(pimpl->mutex);
                   --pimpl->open_streams;
                 });
           }));

  http.Get(
      R"(/api/events/(.+)/snapshot\.jpg)",
      guard("/api/events/{id}", [need_events](const httplib::Request& req, httplib::Response& res) {
        EventSource& source = need_events();
        const std::string id = req.matches[1].str();
        const std::string file = source.snapshot_file(id);
        // The store gives the path; it must still be a regular file under the snapshot
        // folder once symlinks are resolved (a tampered database cannot leak other files).
        if (file.empty() || !file_is_under(source.snapshot_root(), file)) {
          throw ApiError(404, fmt::format("event '{}' has no snapshot", printable(id, 200)),
                         "invalid_request_error", "", "not_found");
        }
        std::string bytes;
        try {
          bytes = read_file(std::filesystem::canonical(file).string());
        } catch (const std::exception&) {
          throw ApiError(404, "the snapshot cannot be read", "invalid_request_error", "",
                         "not_found");
        }
        res.set_header("Cache-Control", "max-age=3600");
        res.set_content(bytes, "image/jpeg");
      }));

  http.Get(R"(/api/events/(.+))",
           guard("/api/events/{id}",
                 [need_events, with_urls](const httplib::Request& req, httplib::Response& res) {
                   EventSource& source = need_events();
                   const std::string id = req.matches[1].str();
                   auto event = source.get(id);
                   if (!event) {
                     throw ApiError(404, fmt::format("no event '{}'", printable(id, 200)),
                                    "invalid_request_error", "", "not_found");
                   }
                   send_json(res, 200, with_urls(std::move(*event)));
                 }));

  http.Post(
      "/api/ask",
      guard("/api/ask", [this, &impl, &opt](const httplib::Request& req, httplib::Response& res) {
        if (answerer_ == nullptr) {
          throw ApiError(404,
                         "this server cannot answer questions (start it with --config, or "
                         "inside vigil run --serve)",
                         "invalid_request_error", "", "no_answerer");
        }
        AskInput input;
        const std::string type = req.get_header_value("Content-Type");
        if (req.is_multipart_form_data()) {
          if (req.has_file("audio")) input.wav = req.get_file_value("audio").content;
          if (req.has_file("text")) input.text = req.get_file_value("text").content;
        } else if (type.rfind("audio/", 0) == 0) {
          input.wav = req.body;
        } else {
          const json body = parse_json_body(req.body);
          auto text = body.find("text");
          if (text == body.end() || !text->is_string()) {
            throw ApiError(400, "'text': expected a string (or upload audio/wav)",
                           "invalid_request_error", "text",
                           text == body.end() ? "missing_field" : "invalid_type");
          }
          input.text = text->get<std::string>();
        }
        if (input.wav.empty() && input.text.find_first_not_of(" \t\r\n") == std::string::npos) {
          throw ApiError(400, "the question is empty", "invalid_request_error", "text",
                         "invalid_value");
        }
        if (!input.wav.empty() && !looks_like_wav(input.wav)) {
          throw ApiError(400, "the upload is not a RIFF/WAVE file", "invalid_request_error",
                         "audio", "invalid_value");
        }
        if (!input.wav.empty()) input.text.clear();
        AskOutput out = answerer_->ask(input);
        json body = {{"question", out.heard}, {"answer", out.answer}, {"source", out.source},
                     {"intent", out.intent},  {"facts", out.facts},   {"audio_url", nullptr}};
        if (!out.answer_wav.empty()) {
          const std::string name = random_id("a");
          {
            std::lock_guard lock(impl.mutex);
            impl.audio.emplace_back(name, std::move(out.answer_wav));
            while (impl.audio.size() > opt.audio_cache) impl.audio.pop_front();
          }
          body["audio_url"] = "/api/audio/" + name + ".wav";
        }
        send_json(res, 200, body);
      }));

  http.Get(R"(/api/audio/([a-z0-9]+)\.wav)",
           guard("/api/audio/{name}", [&impl](const httplib::Request& req, httplib::Response& res) {
             const std::string name = req.matches[1].str();
             std::lock_guard lock(impl.mutex);
             for (const auto& [n, wav] : impl.audio) {
               if (n == name) {
                 res.set_content(wav, "audio/wav");
                 return;
               }
             }
             throw ApiError(404, "no such answer audio (only the latest answers are kept)",
                            "invalid_request_error", "", "not_found");
           }));

  http.Get("/api/stream.mjpg", guard("/api/stream.mjpg", [this, &impl](const httplib::Request& req,
                                                                       httplib::Response& res) {
             struct Watch {
               explicit Watch(LiveView& v) : viewer(v) {}
               LiveView::Viewer viewer;
               uint64_t seq = 0;
               int fd = -1;
             };
             auto watch = std::make_shared<Watch>(live_view_);
             watch->fd = find_connection_fd(req);
             {
               std::lock_guard lock(impl.mutex);
               ++impl.open_streams;
             }
             Impl* pimpl = &impl;
             res.set_header("Cache-Control", "no-cache, no-store");
             res.set_chunked_content_provider(
                 "multipart/x-mixed-replace; boundary=vigilframe",
                 [this, watch](size_t, httplib::DataSink& sink) {
                   std::shared_ptr<const std::string> jpeg;
                   if (stopping_.load()) {
                     sink.done();
                     return true;
                   }
                   if (!live_view_.wait_frame(&watch->seq, &jpeg, kStreamPoll)) {
                     return !peer_gone(watch->fd);  // no frame: a departed viewer is noticed here
                   }
                   const std::string head = fmt::format(
                       "--vigilframe\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
                       jpeg->size());
                   return sink.write(head.data(), head.size()) &&
                          sink.write(jpeg->data(), jpeg->size()) && sink.write("\r\n", 2);
                 },
                 [watch, pimpl](bool) {
                   std::lock_guard lock(pimpl->mutex);
                   --pimpl->open_streams;
                 });
           }));

  http.Get("/api/status",
           guard("/api/status", [this, &impl](const httplib::Request&, httplib::Response& res) {
             json body = {{"uptime_s", seconds_since(impl.started)},
                          {"model", nullptr},
                          {"events", events_ != nullptr},
                          {"ask", answerer_ != nullptr},
                          {"live",
                           {{"frames", live_view_.frames()},
                            {"fps", live_view_.fps()},
                            {"viewers", live_view_.viewers()}}},
                          {"auth", !options_.api_key.empty()},
                          {"info", impl.status_info}};
             if (engine_ != nullptr && scheduler_) {
               const SchedulerStats s = scheduler_->stats();
               body["model"] = {
                   {"id", options_.model_name},
                   {"n_ctx", engine_->context().n_ctx()},
                   {"n_seq", engine_->context().n_seq()},
                   {"max_batch", scheduler_->max_batch()},
                   {"chat_format", std::string(chat_format_name(engine_->chat_format()))}};
               body["llm"] = {{"queue", s.queue_depth},
                              {"running", s.running},
                              {"completed", s.completed},
                              {"cancelled", s.cancelled},
                              {"generated_tokens", s.generated_tokens},
                              {"tokens_per_s", s.tokens_per_s},
                              {"batches", s.batches},
                              {"max_batch_seen", s.max_batch_seen}};
             }
             if (events_ != nullptr) body["zones"] = events_->zone_counts();
             send_json(res, 200, body);
           }));

  http.Get(
      "/metrics", guard("/metrics", [this, &impl](const httplib::Request&, httplib::Response& res) {
        std::string out;
        render_gauge(out, "vigil_uptime_seconds", "Seconds since the server started.",
                     seconds_since(impl.started));
        {
          std::lock_guard lock(impl.metrics_mutex);
          out +=
              "# HELP vigil_http_requests_total HTTP requests by route and status.\n"
              "# TYPE vigil_http_requests_total counter\n";
          for (const auto& [key, n] : impl.requests) {
            out += fmt::format("vigil_http_requests_total{{route=\"{}\",code=\"{}\"}} {}\n",
                               escape_label(key.first), key.second, n);
          }
          out +=
              "# HELP vigil_event_notices_total Event-stream notices published, by kind.\n"
              "# TYPE vigil_event_notices_total counter\n";
          for (const auto& [kind, n] : impl.notices) {
            out +=
                fmt::format("vigil_event_notices_total{{kind=\"{}\"}} {}\n", escape_label(kind), n);
          }
        }
        impl.http_latency.render(out, "vigil_http_request_duration_seconds",
                                 "Time to answer an HTTP request (streams excluded).");
        {
          std::lock_guard lock(impl.mutex);
          render_gauge(out, "vigil_open_streams", "Open SSE and MJPEG streams.", impl.open_streams);
        }
        if (scheduler_) {
          const SchedulerStats s = scheduler_->stats();
          render_gauge(out, "vigil_llm_queue_depth", "LLM requests waiting for the model.",
                       static_cast<double>(s.queue_depth));
          render_gauge(out, "vigil_llm_running", "LLM requests in the batch being decoded.",
                       static_cast<double>(s.running));
          out +=
              "# HELP vigil_llm_requests_total LLM requests by outcome.\n"
              "# TYPE vigil_llm_requests_total counter\n";
          out += fmt::format("vigil_llm_requests_total{{result=\"completed\"}} {}\n", s.completed);
          out += fmt::format("vigil_llm_requests_total{{result=\"cancelled\"}} {}\n", s.cancelled);
          out += fmt::format("vigil_llm_requests_total{{result=\"failed\"}} {}\n", s.failed);
          out += fmt::format("vigil_llm_requests_total{{result=\"rejected\"}} {}\n", s.rejected);
          render_counter(out, "vigil_llm_prompt_tokens_total", "Prompt tokens evaluated.",
                         static_cast<double>(s.prompt_tokens));
          render_counter(out, "vigil_llm_generated_tokens_total", "Tokens generated.",
                         static_cast<double>(s.generated_tokens));
          render_gauge(
              out, "vigil_llm_tokens_per_second",
              "Generated tokens per second of decode time, last batch (all its sequences).",
              s.tokens_per_s);
          render_counter(out, "vigil_llm_batches_total", "Batches decoded.",
                         static_cast<double>(s.batches));
          render_counter(out, "vigil_llm_batched_requests_total",
                         "Requests decoded in a batch of two or more.",
                         static_cast<double>(s.batched_requests));
          render_gauge(out, "vigil_llm_max_batch", "Largest batch decoded so far.",
                       static_cast<double>(s.max_batch_seen));
          scheduler_->queue_wait.render(out, "vigil_llm_queue_wait_seconds",
                                        "Time LLM requests waited for the model.");
          scheduler_->first_token.render(out, "vigil_llm_time_to_first_token_seconds",
                                         "Time from submission to the first generated text.");
          scheduler_->total.render(out, "vigil_llm_request_duration_seconds",
                                   "Time from submission to the end of generation.");
        }
        render_gauge(out, "vigil_live_fps", "Frames per second pushed to the live view.",
                     live_view_.fps());
        render_counter(out, "vigil_live_frames_total", "Frames pushed to the live view.",
                       static_cast<double>(live_view_.frames()));
        render_gauge(out, "vigil_live_viewers", "Clients watching the live view.",
                     live_view_.viewers());
        if (events_ != nullptr) {
          out += "# HELP vigil_events Events in the store, by zone.\n# TYPE vigil_events gauge\n";
          for (const auto& [zone, n] : events_->zone_counts()) {
            out += fmt::format("vigil_events{{zone=\"{}\"}} {}\n", escape_label(zone), n);
          }
        }
        res.set_content(out, "text/plain; version=0.0.4; charset=utf-8");
      }));

  // ---- dashboard ------------------------------------------------------------------------------

  http.Get(
      R"(/.*)", guard("static", [&opt](const httplib::Request& req, httplib::Response& res) {
        const bool page = req.path == "/" || req.path == "/index.html";
        // A browser that opened /?key=... keeps the key in a cookie for its <img>/EventSource
        // calls.
        if (page && !opt.api_key.empty() && req.has_param("key")) {
          res.set_header("Set-Cookie", "vigil_key=" + req.get_param_value("key") +
                                           "; Path=/; HttpOnly; SameSite=Strict");
        }
        if (!opt.web_root.empty()) {
          auto file = resolve_under_root(opt.web_root, req.path);
          if (!file) {
            throw ApiError(404, "not found", "invalid_request_error", "", "not_found");
          }
          res.set_content(read_file(*file), std::string(content_type_for(*file)));
        } else {
          auto asset = embedded_asset(req.path);
          if (!asset) throw ApiError(404, "not found", "invalid_request_error", "", "not_found");
          res.set_content(asset->data.data(), asset->data.size(), std::string(asset->content_type));
        }
        res.set_header("Cache-Control", "no-cache");
        res.set_header("Content-Security-Policy",
                       "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
                       "style-src 'self'; script-src 'self'; connect-src 'self'");
      }));
}

}  // namespace vigil::server
