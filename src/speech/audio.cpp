// WAV reading and writing, down-mixing and resampling.
//
// The WAV parser trusts no size in the file: every chunk is checked against the bytes that are
// really there before it is read, and sample buffers are sized from the data actually present.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>
#include <numeric>

#include "base/error.h"
#include "base/file.h"
#include "speech/speech.h"

namespace vigil::speech {
namespace {

constexpr uint16_t kFormatPcm = 1;
constexpr uint16_t kFormatFloat = 3;
constexpr uint16_t kFormatExtensible = 0xFFFE;
constexpr int kMaxChannels = 8;
constexpr uint32_t kMinRate = 1000;    // Hz; below this the header is garbage, not audio
constexpr uint32_t kMaxRate = 768000;  // Hz
// A data size of 0xFFFFFFFF is how streaming writers say "until the end of the file".
constexpr uint32_t kStreamingSize = 0xFFFFFFFFu;

uint16_t le16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
uint32_t le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

std::string format_name(uint16_t tag) {
  switch (tag) {
    case 2:
      return "MS ADPCM";
    case 6:
      return "A-law";
    case 7:
      return "mu-law";
    case 0x11:
      return "IMA ADPCM";
    case 0x55:
      return "MP3";
    default:
      return fmt::format("format tag {:#06x}", tag);
  }
}

struct WavFormat {
  uint16_t tag = 0;  // kFormatPcm or kFormatFloat once resolved
  uint16_t channels = 0;
  uint32_t sample_rate = 0;
  uint16_t block_align = 0;
  uint16_t bits = 0;  // container bits per sample
};

WavFormat parse_fmt(const uint8_t* p, uint32_t size, const std::string& name) {
  if (size < 16) fail("{}: fmt chunk is {} bytes, expected at least 16", name, size);
  WavFormat f;
  f.tag = le16(p);
  f.channels = le16(p + 2);
  f.sample_rate = le32(p + 4);
  f.block_align = le16(p + 12);
  f.bits = le16(p + 14);
  if (f.tag == kFormatExtensible) {
    if (size < 40)
      fail("{}: WAVE_FORMAT_EXTENSIBLE fmt chunk is {} bytes, expected 40", name, size);
    f.tag = le16(p + 24);  // the first two bytes of the sub-format GUID are the format tag
  }
  if (f.tag != kFormatPcm && f.tag != kFormatFloat) {
    fail("{}: unsupported sample format {} (expected PCM or IEEE float)", name, format_name(f.tag));
  }
  if (f.channels == 0 || f.channels > kMaxChannels) {
    fail("{}: {} channels, expected 1..{}", name, f.channels, kMaxChannels);
  }
  if (f.sample_rate < kMinRate || f.sample_rate > kMaxRate) {
    fail("{}: sample rate {} Hz, expected {}..{}", name, f.sample_rate, kMinRate, kMaxRate);
  }
  const bool pcm_ok =
      f.tag == kFormatPcm && (f.bits == 8 || f.bits == 16 || f.bits == 24 || f.bits == 32);
  const bool float_ok = f.tag == kFormatFloat && (f.bits == 32 || f.bits == 64);
  if (!pcm_ok && !float_ok) {
    fail("{}: unsupported {} sample size of {} bits (expected {})", name,
         f.tag == kFormatPcm ? "PCM" : "float", f.bits,
         f.tag == kFormatPcm ? "8, 16, 24 or 32" : "32 or 64");
  }
  if (f.block_align != f.channels * (f.bits / 8)) {
    fail("{}: block align {} does not match {} channels of {} bits", name, f.block_align,
         f.channels, f.bits);
  }
  return f;
}

float decode_sample(const uint8_t* p, const WavFormat& f) {
  if (f.tag == kFormatFloat) {
    double v;
    if (f.bits == 32) {
      float x;
      std::memcpy(&x, p, 4);
      v = x;
    } else {
      std::memcpy(&v, p, 8);
    }
    return std::isfinite(v) ? static_cast<float>(std::clamp(v, -1.0, 1.0)) : 0.0f;
  }
  switch (f.bits) {
    case 8:
      return (static_cast<int>(p[0]) - 128) / 128.0f;
    case 16:
      return static_cast<int16_t>(le16(p)) / 32768.0f;
    case 24: {
      int32_t v = p[0] | (p[1] << 8) | (p[2] << 16);
      if (v & 0x800000) v -= 0x1000000;  // sign-extend
      return static_cast<float>(v / 8388608.0);
    }
    default:
      return static_cast<float>(static_cast<int32_t>(le32(p)) / 2147483648.0);
  }
}

// Kaiser window helper: the zeroth-order modified Bessel function, by its power series.
double bessel_i0(double x) {
  double sum = 1.0, term = 1.0;
  for (int k = 1; k < 50; ++k) {
    term *= (x / (2.0 * k)) * (x / (2.0 * k));
    sum += term;
    if (term < sum * 1e-12) break;
  }
  return sum;
}

}  // namespace

Audio parse_wav(std::span<const uint8_t> bytes, const std::string& name) {
  if (bytes.size() < 12 || std::memcmp(bytes.data(), "RIFF", 4) != 0 ||
      std::memcmp(bytes.data() + 8, "WAVE", 4) != 0) {
    fail("{}: not a RIFF/WAVE file ({} bytes, expected the 'RIFF....WAVE' header)", name,
         bytes.size());
  }
  size_t pos = 12;
  bool have_fmt = false;
  WavFormat format;
  while (pos + 8 <= bytes.size()) {
    const uint8_t* header = bytes.data() + pos;
    const std::string id(reinterpret_cast<const char*>(header), 4);
    uint32_t size = le32(header + 4);
    const size_t body = pos + 8;
    const size_t remaining = bytes.size() - body;
    if (id == "data") {
      if (!have_fmt) fail("{}: data chunk at offset {} comes before the fmt chunk", name, pos);
      size_t data_size = size;
      if (size == kStreamingSize) data_size = remaining;
      if (data_size > remaining) {
        fail("{}: data chunk declares {} bytes but only {} remain (truncated file)", name,
             data_size, remaining);
      }
      Audio audio;
      audio.sample_rate = static_cast<int>(format.sample_rate);
      audio.channels = format.channels;
      const size_t frames = data_size / format.block_align;  // a partial last frame is dropped
      const size_t bytes_per_sample = format.bits / 8;
      audio.samples.resize(frames * format.channels);
      const uint8_t* p = bytes.data() + body;
      for (size_t i = 0; i < audio.samples.size(); ++i, p += bytes_per_sample) {
        audio.samples[i] = decode_sample(p, format);
      }
      return audio;
    }
    if (size > remaining) {
      fail("{}: '{}' chunk at offset {} declares {} bytes but only {} remain", name, printable(id),
           pos, size, remaining);
    }
    if (id == "fmt ") {
      format = parse_fmt(bytes.data() + body, size, name);
      have_fmt = true;
    }
    pos = body + size + (size & 1u);  // chunks are padded to even sizes
  }
  fail("{}: no data chunk ({})", name,
       have_fmt ? "the file ends after the header" : "no fmt chunk");
}

Audio read_wav(const std::string& path) {
  MappedFile file(path);
  return parse_wav(file.bytes(), path);
}

std::string encode_wav(const Audio& audio) {
  if (audio.channels < 1 || audio.channels > kMaxChannels) {
    fail("encode_wav: {} channels, expected 1..{}", audio.channels, kMaxChannels);
  }
  if (audio.sample_rate < static_cast<int>(kMinRate) ||
      audio.sample_rate > static_cast<int>(kMaxRate)) {
    fail("encode_wav: sample rate {} Hz, expected {}..{}", audio.sample_rate, kMinRate, kMaxRate);
  }
  const uint64_t data_bytes = static_cast<uint64_t>(audio.frames()) * audio.channels * 2;
  if (data_bytes > 0xFFFFFFFFull - 36) fail("encode_wav: {} bytes do not fit a WAV", data_bytes);
  std::string out;
  out.reserve(44 + data_bytes);
  auto put16 = [&out](uint32_t v) {
    out.push_back(static_cast<char>(v & 0xFF));
    out.push_back(static_cast<char>((v >> 8) & 0xFF));
  };
  auto put32 = [&](uint32_t v) {
    put16(v & 0xFFFF);
    put16(v >> 16);
  };
  const auto channels = static_cast<uint32_t>(audio.channels);
  const auto rate = static_cast<uint32_t>(audio.sample_rate);
  out += "RIFF";
  put32(static_cast<uint32_t>(36 + data_bytes));
  out += "WAVEfmt ";
  put32(16);
  put16(kFormatPcm);
  put16(channels);
  put32(rate);
  put32(rate * channels * 2);  // bytes per second
  put16(channels * 2);         // block align
  put16(16);
  out += "data";
  put32(static_cast<uint32_t>(data_bytes));
  const size_t count = audio.frames() * audio.channels;
  for (size_t i = 0; i < count; ++i) {
    float s = audio.samples[i];
    if (!std::isfinite(s)) s = 0.0f;
    const long v = std::lround(std::clamp(s, -1.0f, 1.0f) * 32767.0f);
    put16(static_cast<uint16_t>(static_cast<int16_t>(v)));
  }
  return out;
}

void write_wav(const std::string& path, const Audio& audio) {
  write_file_atomic(path, encode_wav(audio));
}

std::vector<float> downmix(const Audio& audio) {
  if (audio.channels < 1) fail("downmix: {} channels, expected at least 1", audio.channels);
  if (audio.channels == 1) return audio.samples;
  const size_t frames = audio.frames();
  std::vector<float> mono(frames);
  const float scale = 1.0f / static_cast<float>(audio.channels);
  for (size_t i = 0; i < frames; ++i) {
    float sum = 0.0f;
    for (int c = 0; c < audio.channels; ++c) sum += audio.samples[i * audio.channels + c];
    mono[i] = sum * scale;
  }
  return mono;
}

// Windowed-sinc interpolation. Output sample n sits at input position n * from / to; with
// from/to reduced to M/L there are only L distinct fractional positions (phases), so the filter
// taps are computed once per phase. The low-pass cut-off is just under the lower Nyquist rate.
std::vector<float> resample(std::span<const float> mono, int from_hz, int to_hz) {
  if (from_hz <= 0 || to_hz <= 0)
    fail("resample: rates must be positive ({} -> {} Hz)", from_hz, to_hz);
  if (from_hz == to_hz) return {mono.begin(), mono.end()};
  const int64_t g = std::gcd(from_hz, to_hz);
  const int64_t up = to_hz / g;        // L
  const int64_t down = from_hz / g;    // M
  constexpr int kZeroCrossings = 16;   // per side: sets the transition band width
  constexpr double kKaiserBeta = 8.0;  // about 80 dB stop-band attenuation
  const double cutoff = 0.5 * std::min(1.0, static_cast<double>(to_hz) / from_hz) * 0.95;
  const int half = static_cast<int>(std::ceil(kZeroCrossings / (2.0 * cutoff)));
  const int taps = 2 * half;
  const double i0_beta = bessel_i0(kKaiserBeta);

  // Phases are cached when there are few enough (common rate pairs have up <= 320).
  const bool cache = up <= 4096;
  std::vector<float> table;
  auto fill_phase = [&](int64_t phase, float* h) {
    const double frac = static_cast<double>(phase) / up;  // position past the base sample
    double sum = 0.0;
    for (int k = 0; k < taps; ++k) {
      const double t = (k - half + 1) - frac;  // distance from the output position
      const double x = 2.0 * cutoff * t;
      const double sinc =
          std::abs(x) < 1e-9 ? 1.0 : std::sin(std::numbers::pi * x) / (std::numbers::pi * x);
      const double r = t / (half + 1.0);
      const double w =
          std::abs(r) >= 1.0 ? 0.0 : bessel_i0(kKaiserBeta * std::sqrt(1.0 - r * r)) / i0_beta;
      h[k] = static_cast<float>(sinc * w);
      sum += h[k];
    }
    for (int k = 0; k < taps; ++k) h[k] = static_cast<float>(h[k] / sum);  // unity gain at DC
  };
  if (cache) {
    table.resize(static_cast<size_t>(up) * taps);
    for (int64_t p = 0; p < up; ++p) fill_phase(p, table.data() + p * taps);
  }

  const auto n_in = static_cast<int64_t>(mono.size());
  const int64_t n_out = (n_in * up + down - 1) / down;
  std::vector<float> out(static_cast<size_t>(n_out));
  std::vector<float> scratch(cache ? 0 : taps);
  for (int64_t n = 0; n < n_out; ++n) {
    const int64_t pos = n * down;  // in units of 1/up input samples
    const int64_t base = pos / up;
    const int64_t phase = pos % up;
    const float* h;
    if (cache) {
      h = table.data() + phase * taps;
    } else {
      fill_phase(phase, scratch.data());
      h = scratch.data();
    }
    double acc = 0.0;
    const int64_t first = base - half + 1;
    for (int k = 0; k < taps; ++k) {
      const int64_t i = first + k;
      if (i >= 0 && i < n_in) acc += static_cast<double>(h[k]) * mono[static_cast<size_t>(i)];
    }
    out[static_cast<size_t>(n)] = static_cast<float>(acc);
  }
  return out;
}

std::vector<float> to_speech_format(const Audio& audio) {
  if (audio.frames() == 0) fail("audio is empty (0 samples), expected speech");
  return resample(downmix(audio), audio.sample_rate, kSpeechRate);
}

}  // namespace vigil::speech
