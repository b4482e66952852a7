// Live audio through ALSA: 16-bit interleaved PCM, ALSA's plug layer converting rate and channels
// where the hardware differs. A missing device is an ordinary vigil::Error, not a crash.
#include <alsa/asoundlib.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <mutex>

#include "base/error.h"
#include "base/log.h"
#include "speech/speech.h"

namespace vigil::speech {
namespace {

constexpr unsigned kLatencyUs = 100000;  // device buffer: 100 ms

// ALSA prints its own diagnostics on stderr; ours name the device in one line instead.
void quiet_alsa(const char* /*file*/, int /*line*/, const char* /*function*/, int /*err*/,
                const char* /*format*/, ...) {}

snd_pcm_t* open_pcm(const std::string& device, snd_pcm_stream_t stream, int rate, int channels) {
  static std::once_flag once;
  std::call_once(once, [] { snd_lib_error_set_handler(&quiet_alsa); });
  const char* what = stream == SND_PCM_STREAM_CAPTURE ? "capture" : "playback";
  if (rate < 1000 || rate > 384000)
    fail("audio {}: sample rate {} Hz, expected 1000..384000", what, rate);
  if (channels < 1 || channels > 8) fail("audio {}: {} channels, expected 1..8", what, channels);
  snd_pcm_t* pcm = nullptr;
  int rc = snd_pcm_open(&pcm, device.c_str(), stream, 0);
  if (rc < 0) {
    fail("audio {}: cannot open ALSA device '{}': {} (no sound card? try --device)", what, device,
         snd_strerror(rc));
  }
  rc = snd_pcm_set_params(pcm, SND_PCM_FORMAT_S16_LE, SND_PCM_ACCESS_RW_INTERLEAVED,
                          static_cast<unsigned>(channels), static_cast<unsigned>(rate),
                          /*soft_resample=*/1, kLatencyUs);
  if (rc < 0) {
    snd_pcm_close(pcm);
    fail("audio {}: ALSA device '{}' refuses {} Hz, {} channel(s), 16-bit: {}", what, device, rate,
         channels, snd_strerror(rc));
  }
  return pcm;
}

}  // namespace

struct Microphone::Impl {
  snd_pcm_t* pcm = nullptr;
  std::string device;
  std::vector<int16_t> buffer;
  ~Impl() {
    if (pcm) snd_pcm_close(pcm);
  }
};

Microphone::Microphone(const std::string& device, int sample_rate)
    : impl_(std::make_unique<Impl>()) {
  impl_->device = device;
  impl_->pcm = open_pcm(device, SND_PCM_STREAM_CAPTURE, sample_rate, 1);
}

Microphone::~Microphone() = default;

size_t Microphone::read(std::span<float> out) {
  Impl& m = *impl_;
  m.buffer.resize(out.size());
  size_t done = 0;
  while (done < out.size()) {
    snd_pcm_sframes_t n = snd_pcm_readi(m.pcm, m.buffer.data() + done, out.size() - done);
    if (n < 0) {
      // An overrun (we were too slow) or a suspend: recover and go on; anything else is fatal.
      if (snd_pcm_recover(m.pcm, static_cast<int>(n), /*silent=*/1) < 0) {
        fail("audio capture: reading from '{}' failed: {}", m.device,
             snd_strerror(static_cast<int>(n)));
      }
      spdlog::warn("audio capture: '{}' overran; some audio was lost", m.device);
      continue;
    }
    done += static_cast<size_t>(n);
  }
  for (size_t i = 0; i < done; ++i) out[i] = m.buffer[i] / 32768.0f;
  return done;
}

struct Speaker::Impl {
  snd_pcm_t* pcm = nullptr;
  std::string device;
  int channels = 1;
  std::vector<int16_t> buffer;
  ~Impl() {
    if (pcm) snd_pcm_close(pcm);
  }
};

Speaker::Speaker(const std::string& device, int sample_rate, int channels)
    : impl_(std::make_unique<Impl>()) {
  impl_->device = device;
  impl_->channels = channels;
  impl_->pcm = open_pcm(device, SND_PCM_STREAM_PLAYBACK, sample_rate, channels);
}

Speaker::~Speaker() = default;

void Speaker::write(std::span<const float> interleaved) {
  Impl& m = *impl_;
  const size_t frames = interleaved.size() / static_cast<size_t>(m.channels);
  m.buffer.resize(frames * m.channels);
  for (size_t i = 0; i < m.buffer.size(); ++i) {
    const float s = std::isfinite(interleaved[i]) ? std::clamp(interleaved[i], -1.0f, 1.0f) : 0.0f;
    m.buffer[i] = static_cast<int16_t>(std::lround(s * 32767.0f));
  }
  size_t done = 0;
  while (done < frames) {
    snd_pcm_sframes_t n = snd_pcm_writei(m.pcm, m.buffer.data() + done * m.channels, frames - done);
    if (n < 0) {
      if (snd_pcm_recover(m.pcm, static_cast<int>(n), /*silent=*/1) < 0) {
        fail("audio playback: writing to '{}' failed: {}", m.device,
             snd_strerror(static_cast<int>(n)));
      }
      continue;  // an underrun: the device restarts with this data
    }
    done += static_cast<size_t>(n);
  }
}

void Speaker::drain() {
  const int rc = snd_pcm_drain(impl_->pcm);
  if (rc < 0) fail("audio playback: draining '{}' failed: {}", impl_->device, snd_strerror(rc));
}

}  // namespace vigil::speech
