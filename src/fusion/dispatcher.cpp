#include "fusion/dispatcher.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <mosquitto.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "base/error.h"
#include "base/log.h"

namespace vigil::fusion {

namespace {
using Clock = std::chrono::steady_clock;

// A TCP connect with a time limit, so that an unreachable broker is reported within
// `timeout_s` instead of blocking in libmosquitto's connect for the kernel's SYN timeout.
std::string probe_tcp(const std::string& host, int port, double timeout_s) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  const int gai = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &list);
  if (gai != 0) return fmt::format("unknown host ({})", gai_strerror(gai));
  std::string error = "no address";
  for (addrinfo* a = list; a != nullptr; a = a->ai_next) {
    const int fd =
        socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      error = std::strerror(errno);
      continue;
    }
    int rc = connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = poll(&p, 1, static_cast<int>(timeout_s * 1000));
      if (rc == 0) {
        error = fmt::format("no answer within {} s", timeout_s);
        close(fd);
        continue;
      }
      int so_error = 0;
      socklen_t len = sizeof so_error;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
      rc = so_error == 0 ? 0 : -1;
      errno = so_error;
    }
    if (rc == 0) {
      close(fd);
      freeaddrinfo(list);
      return "";
    }
    error = std::strerror(errno);
    close(fd);
  }
  freeaddrinfo(list);
  return error;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Dispatcher

Dispatcher::Dispatcher(std::string name, RetryOptions retry)
    : name_(std::move(name)), retry_(retry) {}

Dispatcher::~Dispatcher() {
  // Derived classes stop() in their own destructors (deliver() is theirs); this is a backstop.
  std::unique_lock lock(mutex_);
  if (worker_.joinable()) {
    stopping_ = true;
    drain_deadline_ = Clock::now();
    wake_.notify_all();
    lock.unlock();
    worker_.join();
  }
}

void Dispatcher::start() {
  if (worker_.joinable()) return;
  worker_ = std::thread([this] { run(); });
}

void Dispatcher::post(AlertMessage message) {
  std::lock_guard lock(mutex_);
  ++stats_.posted;
  if (stopping_) {
    ++stats_.dropped;
    return;
  }
  while (queue_.size() >= retry_.queue) {
    queue_.pop_front();
    ++stats_.dropped;
  }
  queue_.push_back(std::move(message));
  wake_.notify_all();
}

void Dispatcher::stop(double drain_s) {
  {
    std::lock_guard lock(mutex_);
    if (!worker_.joinable()) return;
    stopping_ = true;
    drain_deadline_ = Clock::now() + std::chrono::microseconds(static_cast<int64_t>(drain_s * 1e6));
    wake_.notify_all();
  }
  worker_.join();
  std::lock_guard lock(mutex_);
  if (!queue_.empty()) {
    stats_.dropped += queue_.size();
    spdlog::warn("{}: {} message(s) not delivered at shutdown ({})", name_, queue_.size(),
                 stats_.last_error.empty() ? "out of time" : stats_.last_error);
    queue_.clear();
  }
}

DispatcherStats Dispatcher::stats() const {
  std::lock_guard lock(mutex_);
  DispatcherStats s = stats_;
  s.depth = queue_.size();
  return s;
}

bool Dispatcher::wait(double seconds) {
  std::unique_lock lock(mutex_);
  const auto until = Clock::now() + std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
  wake_.wait_until(lock, until, [&] { return stopping_ && Clock::now() >= drain_deadline_; });
  return !(stopping_ && Clock::now() >= drain_deadline_);
}

void Dispatcher::run() {
  on_start();
  int streak = 0;  // consecutive failed attempts (the channel's backoff state)
  for (;;) {
    AlertMessage message;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(200),
                     [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {
        if (stopping_) break;
        lock.unlock();
        idle();
        continue;
      }
      if (stopping_ && Clock::now() >= drain_deadline_) break;
      message = queue_.front();
    }
    bool delivered = false;
    for (int attempt = 1; attempt <= retry_.max_attempts; ++attempt) {
      std::string error;
      try {
        error = deliver(message);
      } catch (const std::exception& e) {
        error = e.what();
      }
      if (error.empty()) {
        delivered = true;
        if (streak > 0) {
          spdlog::warn("{}: delivering again after {} failed attempt(s)", name_, streak);
        }
        streak = 0;
        break;
      }
      {
        std::lock_guard lock(mutex_);
        ++stats_.failed_attempts;
        stats_.last_error = error;
      }
      if (streak == 0) {
        spdlog::warn(
            "{}: {}; retrying with backoff ({} s doubling to {} s, {} attempts per "
            "message); further failures are counted, not logged",
            name_, error, retry_.backoff_initial_s, retry_.backoff_max_s, retry_.max_attempts);
      }
      ++streak;
      if (attempt == retry_.max_attempts) break;
      const double backoff = std::min(
          retry_.backoff_max_s, retry_.backoff_initial_s * std::pow(2.0, std::min(streak - 1, 30)));
      if (!wait(backoff)) break;
    }
    std::lock_guard lock(mutex_);
    if (!queue_.empty()) queue_.pop_front();
    if (delivered) {
      ++stats_.delivered;
    } else {
      ++stats_.given_up;
    }
    if (stopping_ && Clock::now() >= drain_deadline_) break;
  }
  on_stop();
}

// ---------------------------------------------------------------------------------------------
// Console

std::string ConsoleDispatcher::deliver(const AlertMessage& message) {
  // The status line lives on stderr; a report starts on a clean line.
  std::fprintf(stdout, "%s\n", message.text.c_str());
  std::fflush(stdout);
  return "";
}

// ---------------------------------------------------------------------------------------------
// Webhook

struct WebhookDispatcher::Impl {
  WebhookOptions options;
  std::string base;  // scheme://host[:port]
  std::string path;  // /...
  std::string host;
  int port = 80;
};

WebhookDispatcher::WebhookDispatcher(const WebhookOptions& options)
    : Dispatcher("webhook " + options.url, options.retry), impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  const size_t scheme_end = options.url.find("://");
  if (scheme_end == std::string::npos)
    fail("webhook url \"{}\": expected http://host/path", options.url);
  const size_t path_start = options.url.find('/', scheme_end + 3);
  impl_->base = options.url.substr(0, path_start);
  impl_->path = path_start == std::string::npos ? "/" : options.url.substr(path_start);
  if (impl_->base.size() <= scheme_end + 3) fail("webhook url \"{}\": no host", options.url);
  const std::string authority = impl_->base.substr(scheme_end + 3);
  const size_t colon = authority.rfind(':');
  impl_->port = options.url.rfind("https", 0) == 0 ? 443 : 80;
  impl_->host = authority;
  if (colon != std::string::npos && authority.find(']', colon) == std::string::npos) {
    impl_->host = authority.substr(0, colon);
    try {
      impl_->port = std::stoi(authority.substr(colon + 1));
    } catch (const std::exception&) {
      fail("webhook url \"{}\": bad port", options.url);
    }
  }
}

WebhookDispatcher::~WebhookDispatcher() {
  stop(0);
}

std::string WebhookDispatcher::deliver(const AlertMessage& message) {
  httplib::Client client(impl_->base);
  const double t = impl_->options.timeout_s;
  const time_t sec = static_cast<time_t>(t);
  const time_t usec = static_cast<time_t>((t - static_cast<double>(sec)) * 1e6);
  client.set_connection_timeout(sec, usec);
  client.set_read_timeout(sec, usec);
  client.set_write_timeout(sec, usec);
  const std::string body = message.payload.dump();
  auto result = client.Post(impl_->path, body, "application/json");
  if (!result) {
    std::string why = httplib::to_string(result.error());
    if (result.error() == httplib::Error::Connection) {
      // httplib only says "Connection"; a plain connect says why (refused, unreachable ...).
      why = probe_tcp(impl_->host, impl_->port, t);
      if (why.empty()) why = "connection failed";
    } else if (result.error() == httplib::Error::Read) {
      why = fmt::format("no answer within {} s", t);
    }
    return fmt::format("webhook down: cannot POST to {}: {}", impl_->options.url, why);
  }
  if (result->status < 200 || result->status >= 300) {
    return fmt::format("{} answered HTTP {}", impl_->options.url, result->status);
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// MQTT

namespace {

std::once_flag mosquitto_init_once;

}  // namespace

std::string topic_segment(std::string_view name) {
  std::string out;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) {
      out += static_cast<char>(std::tolower(u));
    } else if (c == '_' || c == '-') {
      out += c;
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "site" : out;
}

struct MqttDispatcher::Impl {
  MqttOptions options;
  std::string site;
  mosquitto* mosq = nullptr;
  bool connected = false;  // worker thread only (callbacks run inside mosquitto_loop there)
  std::string disconnect_reason;
};

MqttDispatcher::MqttDispatcher(const MqttOptions& options, const std::string& site)
    : Dispatcher(fmt::format("mqtt {}:{}", options.host, options.port), options.retry),
      impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  impl_->site = topic_segment(site);
}

MqttDispatcher::~MqttDispatcher() {
  stop(0);
}

std::string MqttDispatcher::topic(const std::string& kind) const {
  return impl_->options.topic_prefix + "/" + impl_->site + "/" + kind;
}

void MqttDispatcher::on_start() {
  std::call_once(mosquitto_init_once, [] { mosquitto_lib_init(); });
  const std::string id = impl_->options.client_id.empty()
                             ? fmt::format("vigil-{}", static_cast<long>(getpid()))
                             : impl_->options.client_id;
  impl_->mosq = mosquitto_new(id.c_str(), true, impl_.get());
  if (impl_->mosq == nullptr) return;
  mosquitto_connect_callback_set(impl_->mosq, [](mosquitto*, void* user, int rc) {
    auto* impl = static_cast<Impl*>(user);
    impl->connected = rc == 0;
    if (rc != 0) impl->disconnect_reason = mosquitto_connack_string(rc);
  });
  mosquitto_disconnect_callback_set(impl_->mosq, [](mosquitto*, void* user, int rc) {
    auto* impl = static_cast<Impl*>(user);
    impl->connected = false;
    if (rc != 0) impl->disconnect_reason = "connection lost";
  });
  if (!impl_->options.username.empty()) {
    mosquitto_username_pw_set(
        impl_->mosq, impl_->options.username.c_str(),
        impl_->options.password.empty() ? nullptr : impl_->options.password.c_str());
  }
}

void MqttDispatcher::on_stop() {
  if (impl_->mosq == nullptr) return;
  if (impl_->connected) {
    mosquitto_disconnect(impl_->mosq);
    for (int i = 0; i < 5; ++i) mosquitto_loop(impl_->mosq, 10, 1);
  }
  mosquitto_destroy(impl_->mosq);
  impl_->mosq = nullptr;
  impl_->connected = false;
}

void MqttDispatcher::idle() {
  if (impl_->mosq != nullptr && impl_->connected) {
    if (mosquitto_loop(impl_->mosq, 0, 1) != MOSQ_ERR_SUCCESS) impl_->connected = false;
  }
}

std::string MqttDispatcher::deliver(const AlertMessage& message) {
  Impl& m = *impl_;
  if (m.mosq == nullptr) return "cannot create an MQTT client (out of memory)";
  const std::string where = fmt::format("broker {}:{}", m.options.host, m.options.port);
  if (!m.connected) {
    if (std::string why = probe_tcp(m.options.host, m.options.port, 2.0); !why.empty()) {
      return fmt::format("{} unreachable: {}", where, why);
    }
    const int rc =
        mosquitto_connect(m.mosq, m.options.host.c_str(), m.options.port, m.options.keepalive_s);
    if (rc != MOSQ_ERR_SUCCESS) {
      return fmt::format("{}: cannot connect: {}", where,
                         rc == MOSQ_ERR_ERRNO ? std::strerror(errno) : mosquitto_strerror(rc));
    }
    // Wait for the broker's CONNACK (the callback sets `connected`).
    m.disconnect_reason.clear();
    for (int i = 0; i < 40 && !m.connected && m.disconnect_reason.empty(); ++i) {
      if (mosquitto_loop(m.mosq, 50, 1) != MOSQ_ERR_SUCCESS) break;
    }
    if (!m.connected) {
      return fmt::format("{}: connection refused by the broker ({})", where,
                         m.disconnect_reason.empty() ? "no answer" : m.disconnect_reason);
    }
  }
  const std::string topic_name = topic(message.kind == "report" ? "reports" : "events");
  const std::string payload = message.payload.dump();
  int mid = 0;
  int rc = mosquitto_publish(m.mosq, &mid, topic_name.c_str(), static_cast<int>(payload.size()),
                             payload.data(), m.options.qos, false);
  if (rc != MOSQ_ERR_SUCCESS) {
    m.connected = false;
    return fmt::format("{}: publish on {} failed: {}", where, topic_name, mosquitto_strerror(rc));
  }
  // Flush the packet now rather than at the next idle tick.
  for (int i = 0; i < 20 && mosquitto_want_write(m.mosq); ++i) {
    rc = mosquitto_loop(m.mosq, 20, 1);
    if (rc != MOSQ_ERR_SUCCESS) {
      m.connected = false;
      return fmt::format("{}: connection lost while publishing ({})", where,
                         mosquitto_strerror(rc));
    }
  }
  return "";
}

}  // namespace vigil::fusion
