// Helpers for the decision-engine tests: a temporary folder, events to seed a store with, and
// a scripted text generator.
#pragma once

#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "base/error.h"
#include "fusion/generator.h"
#include "vision/event.h"

namespace vigil::fusion::testing {

// A fresh folder under the system temp dir, removed with its content at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "vigil-fusion-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) ? pattern : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline vision::Event make_event(const std::string& id, vision::EventType type,
                                const std::string& zone, double start_unix,
                                const std::string& cls = "person", double start_s = 0) {
  vision::Event e;
  e.id = id;
  e.type = type;
  e.rule = std::string(vision::event_type_name(type)) + "_rule";
  e.zone = zone;
  e.camera = "cam0";
  e.object_class = cls;
  e.track_ids = {1};
  e.start_s = start_s;
  e.start_unix = start_unix;
  if (type == vision::EventType::kLineCrossing) {
    e.end_s = start_s;
    e.direction = "left_to_right";
    e.count = 1;
  }
  return e;
}

// Writes `text` for every prompt (or the answer chosen by `respond`), one character per piece.
// With `hold`, generate() waits until release() (to let a queue build up behind it).
class ScriptedGenerator : public TextGenerator {
 public:
  explicit ScriptedGenerator(std::string text) : text_(std::move(text)) {}
  Generation generate(const std::string& prompt, int max_tokens,
                      const std::function<bool(std::string_view)>& on_piece) override {
    {
      std::unique_lock lock(mutex_);
      prompts_.push_back(prompt);
      cv_.notify_all();
      cv_.wait(lock, [&] { return !hold_; });
    }
    Generation g;
    const std::string text = respond ? respond(prompt) : text_;
    for (size_t i = 0; i < text.size() && static_cast<int>(i) < max_tokens * 4; ++i) {
      if (on_piece) on_piece(std::string_view(text).substr(i, 1));
      g.text += text[i];
    }
    g.stop_reason = "eos";
    g.tokens = static_cast<int>(g.text.size());
    return g;
  }
  std::string describe() const override { return "scripted"; }

  void hold() {
    std::lock_guard lock(mutex_);
    hold_ = true;
  }
  void release() {
    std::lock_guard lock(mutex_);
    hold_ = false;
    cv_.notify_all();
  }
  // Waits until `n` prompts have been received.
  void wait_for_prompts(size_t n) {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return prompts_.size() >= n; });
  }
  std::vector<std::string> prompts() {
    std::lock_guard lock(mutex_);
    return prompts_;
  }

  std::function<std::string(const std::string&)> respond;

 private:
  std::string text_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool hold_ = false;
  std::vector<std::string> prompts_;
};

inline std::string shared_test_model() {
  return std::string(VIGIL_SHARED_DIR) + "/testdata/models/qwen2/model-q8_0.gguf";
}

// Runs `command` through the shell; returns its stdout and stores pclose()'s status.
inline std::string run_command(const std::string& command, int* status) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *status = pclose(p);
  return out;
}

}  // namespace vigil::fusion::testing
