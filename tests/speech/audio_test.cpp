// WAV reading/writing (including corrupt and unsupported files), down-mixing and resampling.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <numbers>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/file.h"
#include "speech/speech.h"

namespace vigil::speech {
namespace {

// Builds a WAV byte string field by field, so that tests can write any header they like.
struct WavBuilder {
  uint16_t format = 1;
  uint16_t channels = 1;
  uint32_t rate = 16000;
  uint16_t bits = 16;
  std::string data;
  bool extensible = false;
  uint16_t sub_format = 1;
  int64_t data_size_override = -1;  // declared size; -1: the real size
  int block_align_override = -1;

  std::string build() const {
    std::string fmt_chunk;
    put16(fmt_chunk, extensible ? 0xFFFE : format);
    put16(fmt_chunk, channels);
    put32(fmt_chunk, rate);
    put32(fmt_chunk, rate * channels * bits / 8);
    put16(fmt_chunk, block_align_override >= 0 ? block_align_override : channels * bits / 8);
    put16(fmt_chunk, bits);
    if (extensible) {
      put16(fmt_chunk, 22);    // cbSize
      put16(fmt_chunk, bits);  // valid bits
      put32(fmt_chunk, 0);     // channel mask
      put16(fmt_chunk, sub_format);
      fmt_chunk += std::string("\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71", 14);
    }
    std::string body = "WAVE";
    body += "fmt ";
    put32(body, static_cast<uint32_t>(fmt_chunk.size()));
    body += fmt_chunk;
    body += "data";
    put32(body, data_size_override >= 0 ? static_cast<uint32_t>(data_size_override)
                                        : static_cast<uint32_t>(data.size()));
    body += data;
    std::string out = "RIFF";
    put32(out, static_cast<uint32_t>(body.size()));
    return out + body;
  }
  static void put16(std::string& s, uint32_t v) {
    s.push_back(static_cast<char>(v & 0xFF));
    s.push_back(static_cast<char>((v >> 8) & 0xFF));
  }
  static void put32(std::string& s, uint32_t v) {
    put16(s, v & 0xFFFF);
    put16(s, v >> 16);
  }
};

Audio parse(const std::string& bytes) {
  return parse_wav({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, "test.wav");
}

// The error message of parsing `bytes`, or "" when it parses.
std::string parse_error(const std::string& bytes) {
  try {
    parse(bytes);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::vector<float> sine(double hz, int rate, size_t n, double amplitude = 0.5) {
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) {
    out[i] = static_cast<float>(amplitude * std::sin(2 * std::numbers::pi * hz * i / rate));
  }
  return out;
}

// Amplitude of the `hz` component of x (sampled at `rate`), over the middle of the signal.
double amplitude_at(const std::vector<float>& x, double hz, int rate) {
  const size_t from = x.size() / 8, to = x.size() - x.size() / 8;
  double c = 0, s = 0;
  for (size_t i = from; i < to; ++i) {
    c += x[i] * std::cos(2 * std::numbers::pi * hz * i / rate);
    s += x[i] * std::sin(2 * std::numbers::pi * hz * i / rate);
  }
  return 2 * std::sqrt(c * c + s * s) / static_cast<double>(to - from);
}

TEST(Wav, RoundTripsSixteenBitPcm) {
  Audio audio;
  audio.sample_rate = 22050;
  audio.channels = 2;
  audio.samples = {0.0f, 0.5f, -0.5f, 1.0f, -1.0f, 0.25f};
  const std::string bytes = encode_wav(audio);
  ASSERT_EQ(bytes.size(), 44u + 12u);
  const Audio back = parse(bytes);
  EXPECT_EQ(back.sample_rate, 22050);
  EXPECT_EQ(back.channels, 2);
  ASSERT_EQ(back.samples.size(), audio.samples.size());
  for (size_t i = 0; i < audio.samples.size(); ++i) {
    EXPECT_NEAR(back.samples[i], audio.samples[i], 1.0 / 32767) << i;
  }
}

TEST(Wav, WritesAndReadsAFile) {
  const std::string path = ::testing::TempDir() + "/vigil_speech_roundtrip.wav";
  Audio audio;
  audio.samples = sine(440, 16000, 1600);
  write_wav(path, audio);
  const Audio back = read_wav(path);
  EXPECT_EQ(back.frames(), 1600u);
  EXPECT_NEAR(back.duration_s(), 0.1, 1e-9);
  std::filesystem::remove(path);
}

TEST(Wav, ClipsOutOfRangeAndNonFiniteSamples) {
  Audio audio;
  audio.samples = {2.0f, -3.0f, std::nanf("")};
  const Audio back = parse(encode_wav(audio));
  EXPECT_NEAR(back.samples[0], 1.0f, 1e-4);
  EXPECT_NEAR(back.samples[1], -1.0f, 1e-4);
  EXPECT_EQ(back.samples[2], 0.0f);
}

TEST(Wav, DecodesEightTwentyFourThirtyTwoBitAndFloat) {
  WavBuilder u8;
  u8.bits = 8;
  u8.data = std::string("\x80\xC0\x00", 3);  // 0, +0.5, -1
  Audio a = parse(u8.build());
  ASSERT_EQ(a.samples.size(), 3u);
  EXPECT_FLOAT_EQ(a.samples[0], 0.0f);
  EXPECT_FLOAT_EQ(a.samples[1], 0.5f);
  EXPECT_FLOAT_EQ(a.samples[2], -1.0f);

  WavBuilder s24;
  s24.bits = 24;
  s24.data = std::string("\x00\x00\x40\x00\x00\xC0", 6);  // +0.5, -0.5
  a = parse(s24.build());
  ASSERT_EQ(a.samples.size(), 2u);
  EXPECT_FLOAT_EQ(a.samples[0], 0.5f);
  EXPECT_FLOAT_EQ(a.samples[1], -0.5f);

  WavBuilder s32;
  s32.bits = 32;
  s32.data = std::string("\x00\x00\x00\x40", 4);
  a = parse(s32.build());
  EXPECT_FLOAT_EQ(a.samples.at(0), 0.5f);

  WavBuilder f32;
  f32.format = 3;
  f32.bits = 32;
  const float values[] = {0.25f, -0.75f, 7.0f};
  f32.data.assign(reinterpret_cast<const char*>(values), sizeof values);
  a = parse(f32.build());
  ASSERT_EQ(a.samples.size(), 3u);
  EXPECT_FLOAT_EQ(a.samples[0], 0.25f);
  EXPECT_FLOAT_EQ(a.samples[1], -0.75f);
  EXPECT_FLOAT_EQ(a.samples[2], 1.0f);  // clipped

  WavBuilder ext;  // WAVE_FORMAT_EXTENSIBLE wrapping 16-bit PCM, stereo
  ext.extensible = true;
  ext.channels = 2;
  ext.data = std::string("\x00\x40\x00\xC0", 4);
  a = parse(ext.build());
  EXPECT_EQ(a.channels, 2);
  EXPECT_FLOAT_EQ(a.samples.at(0), 0.5f);
  EXPECT_FLOAT_EQ(a.samples.at(1), -0.5f);
}

TEST(Wav, SkipsUnknownChunksAndAcceptsStreamingSize) {
  WavBuilder w;
  w.data = std::string("\x00\x40", 2);
  std::string bytes = w.build();
  // Insert a LIST chunk of odd size (padded) between RIFF header and fmt.
  const std::string list = std::string("LIST\x03\x00\x00\x00", 8) + "abc" + '\0';
  bytes.insert(12, list);
  EXPECT_FLOAT_EQ(parse(bytes).samples.at(0), 0.5f);

  w.data_size_override = 0xFFFFFFFF;  // "until the end of the file"
  EXPECT_EQ(parse(w.build()).samples.size(), 1u);
}

TEST(Wav, EmptyDataIsEmptyAudioAndCannotBeRecognised) {
  WavBuilder w;
  const Audio a = parse(w.build());
  EXPECT_EQ(a.frames(), 0u);
  try {
    to_speech_format(a);
    FAIL() << "empty audio accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("empty"), std::string::npos) << e.what();
  }
}

TEST(Wav, CorruptFilesGiveClearErrors) {
  WavBuilder good;
  good.data = std::string(100, '\0');
  const std::string bytes = good.build();

  EXPECT_NE(parse_error("").find("not a RIFF/WAVE file (0 bytes"), std::string::npos);
  EXPECT_NE(parse_error("RIFF\x10\x00\x00\x00WAVX").find("not a RIFF/WAVE"), std::string::npos);
  std::string text_file = "hello, this is not audio at all";
  EXPECT_NE(parse_error(text_file).find("not a RIFF/WAVE"), std::string::npos);

  // Truncated: the data chunk declares more than the file holds.
  const std::string truncated = bytes.substr(0, bytes.size() - 40);
  EXPECT_NE(parse_error(truncated).find("data chunk declares 100 bytes but only 60 remain"),
            std::string::npos)
      << parse_error(truncated);

  // A chunk size pointing past the end of the file.
  std::string huge = bytes;
  huge[16] = '\xFF';
  huge[17] = '\xFF';
  huge[18] = '\xFF';
  huge[19] = '\x7F';
  EXPECT_NE(parse_error(huge).find("'fmt ' chunk at offset 12 declares"), std::string::npos)
      << parse_error(huge);

  // Header only.
  EXPECT_NE(parse_error(bytes.substr(0, 12)).find("no data chunk"), std::string::npos);

  // data before fmt.
  std::string swapped = "RIFF" + bytes.substr(4, 8) + "data" + std::string("\x02\x00\x00\x00", 4) +
                        std::string(2, '\0');
  EXPECT_NE(parse_error(swapped).find("before the fmt chunk"), std::string::npos);

  // Short fmt chunk.
  std::string short_fmt = "RIFF" + std::string(4, '\0') + "WAVEfmt " +
                          std::string("\x04\x00\x00\x00", 4) + std::string(4, '\0');
  EXPECT_NE(parse_error(short_fmt).find("fmt chunk is 4 bytes"), std::string::npos);

  // Header fields that make no sense.
  WavBuilder no_channels = good;
  no_channels.channels = 0;
  EXPECT_NE(parse_error(no_channels.build()).find("0 channels"), std::string::npos);
  WavBuilder bad_rate = good;
  bad_rate.rate = 7;
  EXPECT_NE(parse_error(bad_rate.build()).find("sample rate 7 Hz"), std::string::npos);
  WavBuilder bad_align = good;
  bad_align.block_align_override = 3;
  EXPECT_NE(parse_error(bad_align.build()).find("block align 3"), std::string::npos);
}

TEST(Wav, UnsupportedSampleFormatsAreNamed) {
  WavBuilder mulaw;
  mulaw.format = 7;
  mulaw.bits = 8;
  mulaw.data = std::string(10, '\0');
  EXPECT_NE(parse_error(mulaw.build()).find("unsupported sample format mu-law"), std::string::npos)
      << parse_error(mulaw.build());

  WavBuilder adpcm = mulaw;
  adpcm.format = 0x11;
  adpcm.bits = 4;
  EXPECT_NE(parse_error(adpcm.build()).find("IMA ADPCM"), std::string::npos);

  WavBuilder twelve;
  twelve.bits = 12;
  twelve.block_align_override = 2;
  EXPECT_NE(parse_error(twelve.build()).find("unsupported PCM sample size of 12 bits"),
            std::string::npos)
      << parse_error(twelve.build());

  WavBuilder float16;
  float16.format = 3;
  float16.bits = 16;
  EXPECT_NE(parse_error(float16.build()).find("unsupported float sample size of 16 bits"),
            std::string::npos);

  WavBuilder ext_mp3;
  ext_mp3.extensible = true;
  ext_mp3.sub_format = 0x55;
  EXPECT_NE(parse_error(ext_mp3.build()).find("MP3"), std::string::npos);
}

TEST(Wav, MissingFileNamesThePath) {
  try {
    read_wav("/nonexistent/vigil/audio.wav");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/vigil/audio.wav"), std::string::npos);
  }
}

TEST(Resample, KeepsFrequencyAndAmplitudeInThePassBand) {
  for (const auto& [from, to] :
       {std::pair{22050, 16000}, {44100, 16000}, {48000, 16000}, {8000, 16000}, {16000, 11025}}) {
    const auto x = sine(1000, from, static_cast<size_t>(from));
    const auto y = resample(x, from, to);
    EXPECT_NEAR(static_cast<double>(y.size()), to, 1.0) << from << "->" << to;
    EXPECT_NEAR(amplitude_at(y, 1000, to), 0.5, 0.01) << from << "->" << to;
  }
}

TEST(Resample, RemovesWhatWouldAlias) {
  // 10 kHz cannot be represented at 16 kHz; without the low-pass it would fold to 6 kHz.
  const auto y = resample(sine(10000, 44100, 44100), 44100, 16000);
  EXPECT_LT(amplitude_at(y, 6000, 16000), 0.005);
  double energy = 0;
  for (float v : y) energy += v * v;
  EXPECT_LT(std::sqrt(energy / y.size()), 0.01);
}

TEST(Resample, SameRateIsACopyAndBadRatesThrow) {
  const std::vector<float> x = {0.1f, 0.2f};
  EXPECT_EQ(resample(x, 16000, 16000), x);
  EXPECT_THROW(resample(x, 0, 16000), Error);
  EXPECT_TRUE(resample({}, 44100, 16000).empty());
}

TEST(Resample, ToSpeechFormatDownmixesAndResamples) {
  Audio stereo;
  stereo.sample_rate = 32000;
  stereo.channels = 2;
  const auto left = sine(500, 32000, 32000, 0.8);
  for (float v : left) {
    stereo.samples.push_back(v);
    stereo.samples.push_back(0.0f);  // silent right channel: the mix halves the amplitude
  }
  const auto mono = to_speech_format(stereo);
  EXPECT_EQ(mono.size(), 16000u);
  EXPECT_NEAR(amplitude_at(mono, 500, 16000), 0.4, 0.01);
}

}  // namespace
}  // namespace vigil::speech
