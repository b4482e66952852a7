// Live audio: without the device, capture and playback fail with one clear line naming it.
// (The build and CI machines have no sound card; real capture is exercised by `vigil listen
// --mic`.)
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "speech/speech.h"

namespace vigil::speech {
namespace {

TEST(Live, MissingCaptureDeviceIsAClearError) {
  try {
    Microphone mic("vigil_no_such_device");
    FAIL() << "opened a device that does not exist";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("audio capture: cannot open ALSA device 'vigil_no_such_device'"),
              std::string::npos)
        << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

TEST(Live, MissingPlaybackDeviceIsAClearError) {
  try {
    Speaker speaker("vigil_no_such_device", 22050);
    FAIL() << "opened a device that does not exist";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("audio playback: cannot open ALSA device "
                                         "'vigil_no_such_device'"),
              std::string::npos)
        << e.what();
  }
}

// ALSA's "null" device (alsa-lib's standard configuration) takes playback and gives silence, so
// the capture and playback paths run without a sound card.
TEST(Live, CapturesAndPlaysThroughTheNullDevice) {
  std::unique_ptr<Microphone> mic;
  try {
    mic = std::make_unique<Microphone>("null", kSpeechRate);
  } catch (const Error& e) {
    GTEST_SKIP() << "no ALSA null device: " << e.what();
  }
  std::vector<float> buffer(kSpeechRate / 10, 1.0f);
  EXPECT_EQ(mic->read(buffer), buffer.size());
  for (float v : buffer) EXPECT_EQ(v, 0.0f);

  Speaker speaker("null", 22050, 1);
  Synthesizer tts;
  tts.speak("Testing playback.", [&](std::span<const float> pcm, size_t) {
    speaker.write(pcm);
    return true;
  });
  speaker.drain();
  Speaker stereo("null", 44100, 2);
  stereo.write(std::vector<float>(882, 0.25f));
  stereo.drain();
}

TEST(Live, BadSettingsAreRejectedBeforeOpening) {
  EXPECT_THROW(Microphone("default", 10), Error);
  EXPECT_THROW(Speaker("default", 16000, 0), Error);
}

}  // namespace
}  // namespace vigil::speech
