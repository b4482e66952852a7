// Live audio: without the device, capture and playback fail with one clear line naming it.
// (The build and CI machines have no sound card; real capture is exercised by `vigil listen --mic`.)
#include <gtest/gtest.h>

#include <string>

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

TEST(Live, BadSettingsAreRejectedBeforeOpening) {
  EXPECT_THROW(Microphone("default", 10), Error);
  EXPECT_THROW(Speaker("default", 16000, 0), Error);
}

}  // namespace
}  // namespace vigil::speech
