// `vigil run --serve`: the HTTP server attached to a running site (fusion::run_site) through
// its RunHooks. One model serves everything: the summarizer's reports, /api/ask answers and the
// OpenAI endpoints all go through the server's Scheduler (one engine thread, requests batched),
// so attaching the server costs no second copy of the weights.
//
//   RunServer serve(config, options, engine_threads, n_ctx, n_seq);
//   fusion::RunOptions ro; ro.hooks = &serve; ro.interrupt = &stop_flag;
//   fusion::run_site(config, ro);   // make_generator loads the model and creates the server,
//                                   // on_start binds it, on_finish keeps serving until stop
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "fusion/run.h"
#include "server/server.h"

namespace vigil::server {

class StoreEventSource;
class SchedulerGenerator;
class StoreAnswerer;

struct RunServerOptions {
  ServerOptions server;
  int threads = 0;    // LLM compute threads (0 = all)
  int ctx = 1024;     // KV cache tokens per sequence
  int parallel = 2;   // sequences decoded together (reports, answers and API requests)
  bool speak = true;  // synthesise spoken answers for /api/ask
  // After the source ends, keep serving the stored events until `stop` is set (else return).
  bool serve_after_end = true;
  std::atomic<bool>* stop = nullptr;  // e.g. set by SIGINT/SIGTERM
};

class RunServer : public fusion::RunHooks {
 public:
  RunServer(const fusion::RunConfig& config, RunServerOptions options);
  ~RunServer() override;  // stops the server

  std::unique_ptr<fusion::TextGenerator> make_generator(const std::string& model_path) override;
  void on_start(const fusion::EventStore& store, fusion::Summarizer& summarizer,
                const std::string& run_id, const std::string& snapshot_root) override;
  void on_event(const fusion::StoredEvent& event) override;
  bool wants_frames() const override { return server_ != nullptr; }
  void on_frame(const cv::Mat& annotated) override;
  void on_finish(const fusion::RunSummary& summary) override;
  void on_abort() override;

  Server* server() { return server_.get(); }

 private:
  const fusion::RunConfig& config_;
  RunServerOptions options_;
  std::string model_path_;
  // Declared in dependency order: destroyed answerer -> events -> server -> engine.
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<StoreEventSource> events_;
  std::unique_ptr<SchedulerGenerator> answer_generator_;
  std::unique_ptr<StoreAnswerer> answerer_;
};

}  // namespace vigil::server
