#include "llm/compress/perplexity.h"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <numeric>

#include "base/error.h"
#include "base/file.h"
#include "llm/runtime/context.h"
#include "llm/tokenizer/tokenizer.h"

namespace vigil::compress {
namespace {

constexpr char kMagic[8] = {'V', 'G', 'L', 'O', 'G', 'P', '0', '1'};
constexpr size_t kHeaderBytes = 8 + 5 * 4 + 8;
// Above this vocabulary size the reference file keeps the top 64 tokens by default.
constexpr int32_t kFullVocabLimit = 8192;
constexpr int32_t kDefaultTopK = 64;

int32_t scored_per_window(int32_t n_ctx) {
  return n_ctx - 1 - n_ctx / 2;
}

uint64_t record_bytes(int32_t n_vocab, int32_t top_k) {
  return top_k == 0 ? 4 * static_cast<uint64_t>(n_vocab) : 8 * static_cast<uint64_t>(top_k) + 8;
}

// Streams a file to `path`.tmp.<pid>; commit() fsyncs and renames it into place. Destroyed
// without commit() (an error on the way), the temp file is removed: no partial file is ever left
// under the final name.
class AtomicWriter {
 public:
  explicit AtomicWriter(const std::string& path)
      : path_(path), tmp_(path + ".tmp." + std::to_string(::getpid())) {
    file_ = std::fopen(tmp_.c_str(), "wb");
    if (file_ == nullptr) fail("{}: cannot create: {}", tmp_, std::strerror(errno));
  }
  ~AtomicWriter() {
    if (file_ != nullptr) {
      std::fclose(file_);
      std::remove(tmp_.c_str());
    }
  }
  AtomicWriter(const AtomicWriter&) = delete;
  AtomicWriter& operator=(const AtomicWriter&) = delete;

  void write(const void* data, size_t bytes) {
    if (bytes > 0 && std::fwrite(data, 1, bytes, file_) != bytes) {
      fail("{}: write failed (disk full?): {}", tmp_, std::strerror(errno));
    }
  }
  template <typename T>
  void put(T v) {
    write(&v, sizeof v);
  }
  void commit() {
    if (std::fflush(file_) != 0 || ::fsync(fileno(file_)) != 0) {
      fail("{}: write failed (disk full?): {}", tmp_, std::strerror(errno));
    }
    std::fclose(file_);
    file_ = nullptr;
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
      const std::string why = std::strerror(errno);
      std::remove(tmp_.c_str());
      fail("{}: cannot rename the finished file into place: {}", path_, why);
    }
  }

 private:
  std::string path_, tmp_;
  std::FILE* file_ = nullptr;
};

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// A mapped, validated reference file.
struct LogitFile {
  MappedFile file;
  LogitFileHeader h;
  const uint8_t* tokens = nullptr;
  const uint8_t* records = nullptr;
  uint64_t rec_bytes = 0;

  int32_t token(int64_t i) const { return load<int32_t>(tokens + 4 * i); }
  const uint8_t* record(int64_t i) const { return records + static_cast<uint64_t>(i) * rec_bytes; }
};

LogitFile open_logit_file(const std::string& path) {
  LogitFile f;
  f.h = read_logit_header(path);
  f.file = MappedFile(path);
  f.tokens = f.file.data() + kHeaderBytes;
  f.records = f.tokens + 4 * static_cast<uint64_t>(f.h.n_tokens);
  f.rec_bytes = record_bytes(f.h.n_vocab, f.h.top_k);
  return f;
}

// Argmax with the lowest index on ties.
int32_t argmax(std::span<const float> v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// Accumulates per-token KLD statistics against a base record.
class KldAccumulator {
 public:
  KldAccumulator(int32_t n_vocab, int32_t top_k) : n_vocab_(n_vocab), top_k_(top_k) {
    in_top_.assign(static_cast<size_t>(n_vocab), 0);
  }

  // `lq`: the new log-probs rounded to f32 (as the base was stored, so that a model compared
  // with itself gives exactly 0), `logits` for the argmax.
  void add(const uint8_t* rec, std::span<const float> lq, std::span<const float> logits,
           int32_t target) {
    double kld = 0;
    double lp_target = 0;
    int32_t base_top = 0;
    if (top_k_ == 0) {
      std::vector<float>& lp = tmp_;
      lp.resize(static_cast<size_t>(n_vocab_));
      std::memcpy(lp.data(), rec, 4 * lp.size());
      for (int32_t i = 0; i < n_vocab_; ++i) {
        const double p = std::exp(static_cast<double>(lp[static_cast<size_t>(i)]));
        if (p > 0)
          kld += p * (static_cast<double>(lp[static_cast<size_t>(i)]) - lq[static_cast<size_t>(i)]);
      }
      lp_target = lp[static_cast<size_t>(target)];
      base_top = argmax(lp);
    } else {
      const auto k = static_cast<size_t>(top_k_);
      for (size_t i = 0; i < k; ++i) {
        const int32_t id = load<int32_t>(rec + 4 * i);
        const auto lp = static_cast<double>(load<float>(rec + 4 * k + 4 * i));
        kld += std::exp(lp) * (lp - lq[static_cast<size_t>(id)]);
        in_top_[static_cast<size_t>(id)] = 1;
      }
      double q_rest = 0;
      for (int32_t i = 0; i < n_vocab_; ++i) {
        if (in_top_[static_cast<size_t>(i)] == 0)
          q_rest += std::exp(static_cast<double>(lq[static_cast<size_t>(i)]));
      }
      for (size_t i = 0; i < k; ++i) in_top_[static_cast<size_t>(load<int32_t>(rec + 4 * i))] = 0;
      lp_target = load<float>(rec + 8 * k);
      const auto log_p_rest = static_cast<double>(load<float>(rec + 8 * k + 4));
      const double p_rest = std::exp(log_p_rest);
      if (p_rest > 0) {
        const double log_q_rest =
            q_rest > 0 ? static_cast<double>(static_cast<float>(std::log(q_rest))) : -745.0;
        kld += p_rest * (log_p_rest - log_q_rest);
      }
      base_top = load<int32_t>(rec);
    }
    const double lq_target = lq[static_cast<size_t>(target)];
    kld_.push_back(kld);
    agree_.push_back(argmax(logits) == base_top ? 1.0 : 0.0);
    dp_.push_back(std::exp(lq_target) - std::exp(lp_target));
    ln_ratio_.push_back(lp_target - lq_target);
    base_nll_ += -lp_target;
  }

  KldResult result() const {
    KldResult r;
    r.n_tokens = static_cast<int64_t>(kld_.size());
    r.exact = top_k_ == 0;
    r.kld = mean_and_error(kld_);
    std::vector<double> sorted = kld_;
    std::sort(sorted.begin(), sorted.end());
    auto quantile = [&](double q) {
      const auto i = static_cast<size_t>(std::llround(q * static_cast<double>(sorted.size() - 1)));
      return sorted[i];
    };
    r.kld_median = quantile(0.5);
    r.kld_p99 = quantile(0.99);
    r.kld_max = sorted.back();
    r.top1_agree = mean_and_error(agree_);
    // Binomial standard error, as llama.cpp reports "same top p".
    const double a = r.top1_agree.mean;
    r.top1_agree.err =
        kld_.size() > 1 ? std::sqrt(a * (1 - a) / static_cast<double>(kld_.size() - 1)) : 0;
    r.delta_p = mean_and_error(dp_);
    double sq = 0;
    for (double d : dp_) sq += d * d;
    r.delta_p_rms = std::sqrt(sq / static_cast<double>(dp_.size()));
    r.ppl_base = std::exp(base_nll_ / static_cast<double>(kld_.size()));
    r.ln_ppl_ratio = mean_and_error(ln_ratio_);
    return r;
  }

 private:
  int32_t n_vocab_, top_k_;
  std::vector<uint8_t> in_top_;
  std::vector<float> tmp_;
  std::vector<double> kld_, agree_, dp_, ln_ratio_;
  double base_nll_ = 0;
};

}  // namespace

std::vector<int32_t> tokenize_text(const Tokenizer& tokenizer, const std::string& text) {
  return tokenizer.encode(text, /*add_special=*/true, /*parse_special=*/false);
}

uint64_t vocab_hash(const Tokenizer& tokenizer) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a 64
  auto mix = [&](uint8_t byte) {
    h ^= byte;
    h *= 1099511628211ull;
  };
  for (int32_t id = 0; id < tokenizer.n_vocab(); ++id) {
    for (char c : tokenizer.token_text(id)) mix(static_cast<uint8_t>(c));
    mix(0xff);  // separator: not a byte of valid UTF-8
  }
  return h;
}

std::vector<double> log_softmax(std::span<const float> logits) {
  std::vector<double> out(logits.size());
  if (logits.empty()) return out;
  const double mx = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float v : logits) sum += std::exp(static_cast<double>(v) - mx);
  const double log_z = mx + std::log(sum);
  for (size_t i = 0; i < logits.size(); ++i) out[i] = static_cast<double>(logits[i]) - log_z;
  return out;
}

MeanErr mean_and_error(std::span<const double> values) {
  MeanErr r;
  if (values.empty()) return r;
  const auto n = static_cast<double>(values.size());
  double sum = 0, sum2 = 0;
  for (double v : values) {
    sum += v;
    sum2 += v * v;
  }
  r.mean = sum / n;
  const double var = sum2 / n - r.mean * r.mean;
  r.err = values.size() > 1 && var > 0 ? std::sqrt(var / (n - 1)) : 0;
  return r;
}

LogitFileHeader read_logit_header(const std::string& path) {
  MappedFile file(path);
  const uint8_t* p = file.data();
  const uint64_t size = file.size();
  if (size < kHeaderBytes || std::memcmp(p, kMagic, 8) != 0) {
    fail(
        "{}: not a vigil reference log-prob file (expected magic 'VGLOGP01'; make it with "
        "`vigil perplexity --save-logits`)",
        path);
  }
  LogitFileHeader h;
  auto field = [&](int i, const char* name, int64_t lo, int64_t hi) {
    const uint32_t v = load<uint32_t>(p + 8 + 4 * i);
    if (v < lo || v > hi) fail("{}: header field {} = {}: expected {}..{}", path, name, v, lo, hi);
    return static_cast<int32_t>(v);
  };
  h.n_vocab = field(0, "n_vocab", 1, INT32_MAX);
  h.n_ctx = field(1, "n_ctx", 4, INT32_MAX);
  h.n_windows = field(2, "n_windows", 1, INT32_MAX);
  h.top_k = field(3, "top_k", 0, h.n_vocab);
  h.n_tokens = field(4, "n_tokens", 1, INT32_MAX);
  h.vocab_hash = load<uint64_t>(p + 28);
  if (static_cast<int64_t>(h.n_tokens) != static_cast<int64_t>(h.n_windows) * h.n_ctx) {
    fail("{}: header: n_tokens {} != n_windows {} * n_ctx {}", path, h.n_tokens, h.n_windows,
         h.n_ctx);
  }
  const uint64_t records =
      static_cast<uint64_t>(h.n_windows) * static_cast<uint64_t>(scored_per_window(h.n_ctx));
  const uint64_t rec = record_bytes(h.n_vocab, h.top_k);
  const uint64_t fixed = kHeaderBytes + 4 * static_cast<uint64_t>(h.n_tokens);
  if (fixed > size || records > (size - fixed) / rec || fixed + records * rec != size) {
    fail(
        "{}: file is {} bytes, the header describes {} tokens and {} records of {} bytes "
        "(truncated "
        "or corrupt)",
        path, size, h.n_tokens, records, rec);
  }
  return h;
}

PerplexityResult evaluate_perplexity(Context& ctx, std::span<const int32_t> tokens, int32_t bos,
                                     uint64_t vocabulary_hash, const PerplexityOptions& options,
                                     const PerplexityProgress& progress) {
  const int32_t n_ctx = options.n_ctx;
  const int32_t n_vocab = ctx.n_vocab();
  if (n_ctx < 4) fail("perplexity: window size {} is too small (need at least 4 tokens)", n_ctx);
  if (ctx.n_ctx() < n_ctx)
    fail("perplexity: the context holds {} tokens, the window needs {}", ctx.n_ctx(), n_ctx);

  // The evaluated token stream: from the text, or from the base file (checked against the text).
  std::optional<LogitFile> base;
  int32_t n_windows = 0;
  if (!options.kld_base.empty()) {
    base = open_logit_file(options.kld_base);
    const LogitFileHeader& h = base->h;
    const std::string& path = options.kld_base;
    if (h.n_vocab != n_vocab) {
      fail("{}: the base has a vocabulary of {} logits, this model {} (not the same model family)",
           path, h.n_vocab, n_vocab);
    }
    if (h.vocab_hash != 0 && vocabulary_hash != 0 && h.vocab_hash != vocabulary_hash) {
      fail(
          "{}: the base was made with a different tokenizer vocabulary (hash {:016x}, this model "
          "{:016x})",
          path, h.vocab_hash, vocabulary_hash);
    }
    if (h.n_ctx != n_ctx)
      fail("{}: the base was made with --ctx {}, this run uses {}", path, h.n_ctx, n_ctx);
    n_windows = h.n_windows;
  } else {
    n_windows = static_cast<int32_t>(tokens.size() / static_cast<size_t>(n_ctx));
    if (n_windows == 0) {
      fail(
          "perplexity: the text has {} tokens; one window of --ctx {} needs at least {} (use a "
          "longer text or a smaller --ctx)",
          tokens.size(), n_ctx, n_ctx);
    }
  }
  if (options.max_windows > 0) n_windows = std::min(n_windows, options.max_windows);

  // Windows with BOS substituted at their start.
  std::vector<int32_t> stream(static_cast<size_t>(n_windows) * static_cast<size_t>(n_ctx));
  if (base) {
    for (size_t i = 0; i < stream.size(); ++i) stream[i] = base->token(static_cast<int64_t>(i));
    if (!tokens.empty()) {
      for (size_t i = 0; i < stream.size(); ++i) {
        const bool window_start = i % static_cast<size_t>(n_ctx) == 0;
        const int32_t mine = i >= tokens.size() ? -1 : (window_start && bos >= 0 ? bos : tokens[i]);
        if (mine != stream[i]) {
          fail(
              "{}: the base was computed on different tokens (first difference at token {}: base "
              "{}, this text {}); use the same text, tokenizer and --ctx",
              options.kld_base, i, stream[i], mine);
        }
      }
    }
    for (int32_t id : stream) {
      if (id < 0 || id >= n_vocab)
        fail("{}: token id {} out of range (vocabulary {})", options.kld_base, id, n_vocab);
    }
  } else {
    std::copy(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(stream.size()),
              stream.begin());
    if (bos >= 0) {
      for (size_t i = 0; i < stream.size(); i += static_cast<size_t>(n_ctx)) stream[i] = bos;
    }
  }

  const int32_t first = n_ctx / 2;
  const int32_t per_window = scored_per_window(n_ctx);
  std::unique_ptr<AtomicWriter> writer;
  int32_t top_k = 0;
  if (!options.save_logits.empty()) {
    top_k = options.save_top_k >= 0 ? std::min(options.save_top_k, n_vocab)
                                    : (n_vocab <= kFullVocabLimit ? 0 : kDefaultTopK);
    writer = std::make_unique<AtomicWriter>(options.save_logits);
    writer->write(kMagic, 8);
    for (int32_t v : {n_vocab, n_ctx, n_windows, top_k, static_cast<int32_t>(stream.size())}) {
      writer->put(static_cast<uint32_t>(v));
    }
    writer->put(vocabulary_hash);
    writer->write(stream.data(), 4 * stream.size());
  }
  std::optional<KldAccumulator> kld;
  if (base) kld.emplace(n_vocab, base->h.top_k);

  PerplexityResult result;
  result.n_ctx = n_ctx;
  result.n_windows = n_windows;
  std::vector<double> nlls;
  nlls.reserve(static_cast<size_t>(n_windows) * static_cast<size_t>(per_window));
  std::vector<float> lq(static_cast<size_t>(n_vocab));
  std::vector<int32_t> order(static_cast<size_t>(n_vocab));
  double nll_sum = 0;
  int64_t record_index = 0;
  for (int32_t w = 0; w < n_windows; ++w) {
    const std::span<const int32_t> window(
        stream.data() + static_cast<size_t>(w) * static_cast<size_t>(n_ctx),
        static_cast<size_t>(n_ctx));
    ctx.reset();
    const std::span<const float> logits = ctx.eval(window, /*all_logits=*/true);
    for (int32_t j = first; j < n_ctx - 1; ++j) {
      const std::span<const float> row = logits.subspan(
          static_cast<size_t>(j) * static_cast<size_t>(n_vocab), static_cast<size_t>(n_vocab));
      const int32_t target = window[static_cast<size_t>(j) + 1];
      const std::vector<double> lp = log_softmax(row);
      const double nll = -lp[static_cast<size_t>(target)];
      nlls.push_back(nll);
      nll_sum += nll;
      for (size_t i = 0; i < lq.size(); ++i) lq[i] = static_cast<float>(lp[i]);
      if (writer && top_k == 0) {
        writer->write(lq.data(), 4 * lq.size());
      } else if (writer) {
        std::iota(order.begin(), order.end(), 0);
        auto by_prob = [&](int32_t a, int32_t b) {
          return lq[static_cast<size_t>(a)] > lq[static_cast<size_t>(b)] ||
                 (lq[static_cast<size_t>(a)] == lq[static_cast<size_t>(b)] && a < b);
        };
        std::partial_sort(order.begin(), order.begin() + top_k, order.end(), by_prob);
        // The rest mass, summed in id order from the f32 log-probs exactly as KldAccumulator sums
        // the new model's, so a model compared with itself gives 0.
        std::vector<float> top_lp(static_cast<size_t>(top_k));
        std::vector<uint8_t> in_top(static_cast<size_t>(n_vocab), 0);
        for (int32_t i = 0; i < top_k; ++i)
          in_top[static_cast<size_t>(order[static_cast<size_t>(i)])] = 1;
        double rest = 0;
        for (size_t i = 0; i < lq.size(); ++i) {
          if (in_top[i] == 0) rest += std::exp(static_cast<double>(lq[i]));
        }
        for (int32_t i = 0; i < top_k; ++i)
          top_lp[static_cast<size_t>(i)] = lq[static_cast<size_t>(order[static_cast<size_t>(i)])];
        writer->write(order.data(), 4 * static_cast<size_t>(top_k));
        writer->write(top_lp.data(), 4 * top_lp.size());
        writer->put(lq[static_cast<size_t>(target)]);
        writer->put(rest > 0 ? static_cast<float>(std::log(rest)) : -INFINITY);
      }
      if (kld) kld->add(base->record(record_index), lq, row, target);
      ++record_index;
    }
    if (progress) {
      progress(w + 1, n_windows, std::exp(nll_sum / static_cast<double>(nlls.size())));
    }
  }
  if (writer) writer->commit();

  const MeanErr m = mean_and_error(nlls);
  result.n_scored = static_cast<int64_t>(nlls.size());
  result.mean_nll = m.mean;
  result.ppl = std::exp(m.mean);
  result.ppl_err = result.ppl * m.err;
  if (kld) result.kld = kld->result();
  return result;
}

}  // namespace vigil::compress
