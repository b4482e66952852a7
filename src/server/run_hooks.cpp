#include "server/run_hooks.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "fusion/store.h"
#include "fusion/summarizer.h"
#include "server/fusion_adapter.h"

namespace vigil::server {

RunServer::RunServer(const fusion::RunConfig& config, RunServerOptions options)
    : config_(config), options_(std::move(options)) {}

RunServer::~RunServer() {
  if (server_) server_->stop();
}

std::unique_ptr<fusion::TextGenerator> RunServer::make_generator(const std::string& model_path) {
  model_path_ = model_path;
  EngineOptions eo;
  eo.model_path = model_path;
  eo.n_threads = options_.threads;
  eo.n_ctx = options_.ctx;
  eo.n_seq = std::max(1, options_.parallel);
  engine_ = std::make_unique<Engine>(eo);
  ServerOptions so = options_.server;
  so.model_name = std::filesystem::path(model_path).stem().string();
  server_ = std::make_unique<Server>(so, engine_.get());
  return std::make_unique<SchedulerGenerator>(*server_->scheduler(), model_path);
}

void RunServer::on_start(const fusion::EventStore& store, fusion::Summarizer& summarizer,
                         const std::string& run_id, const std::string& snapshot_root) {
  if (!server_) return;  // make_generator was not called: nothing to serve with
  std::filesystem::create_directories(snapshot_root);
  events_ = std::make_unique<StoreEventSource>(store, snapshot_root);
  summarizer.add_listener(events_.get());
  answer_generator_ = std::make_unique<SchedulerGenerator>(*server_->scheduler(), model_path_);
  answerer_ =
      std::make_unique<StoreAnswerer>(config_, store, answer_generator_.get(), options_.speak);
  server_->set_event_source(events_.get());
  server_->set_answerer(answerer_.get());
  server_->set_status_info({{"site", config_.site}, {"run", run_id}});
  server_->start();
  std::fprintf(stderr, "vigil run: serving %s (model %s)%s\n", server_->url().c_str(),
               server_->options().model_name.c_str(),
               server_->options().api_key.empty() ? "" : ", API key required");
  std::fflush(stderr);
}

void RunServer::on_event(const fusion::StoredEvent& event) {
  if (events_) events_->on_event(event);
}

void RunServer::on_frame(const cv::Mat& annotated) {
  if (server_) server_->live_view().push_frame(annotated);
}

void RunServer::on_finish(const fusion::RunSummary& summary) {
  (void)summary;
  if (!server_ || !server_->running()) return;
  if (options_.serve_after_end && options_.stop != nullptr && !options_.stop->load()) {
    std::fprintf(stderr, "vigil run: the source is done; still serving %s (Ctrl-C to stop)\n",
                 server_->url().c_str());
    std::fflush(stderr);
    while (!options_.stop->load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::fprintf(stderr, "vigil run: stopping the server\n");
  server_->stop();  // in-flight requests get drain_s; streams end; before the store closes
}

void RunServer::on_abort() {
  if (server_) server_->stop();
}

}  // namespace vigil::server
