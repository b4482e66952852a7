# vigil_speech's system libraries (Debian 12): libpocketsphinx-dev + pocketsphinx-en-us (STT),
# libespeak-ng-dev (TTS), libasound2-dev (live audio), libyaml-cpp-dev (speech config).
# Imported pkg-config targets: their headers are included as system headers (no -Werror noise).
find_package(PkgConfig REQUIRED)
# Debian's pocketsphinx.pc names /usr/include/sphinxbase, which does not exist (the headers are
# under the multiarch folder), so its include folders are filtered instead of imported as a target.
pkg_check_modules(VIGIL_POCKETSPHINX REQUIRED pocketsphinx)
set(vigil_pocketsphinx_includes "")
foreach(dir ${VIGIL_POCKETSPHINX_INCLUDE_DIRS})
  if(IS_DIRECTORY ${dir})
    list(APPEND vigil_pocketsphinx_includes ${dir})
  endif()
endforeach()
target_include_directories(vigil_speech SYSTEM PRIVATE ${vigil_pocketsphinx_includes})
pkg_check_modules(VIGIL_ESPEAK_NG REQUIRED IMPORTED_TARGET espeak-ng)
pkg_check_modules(VIGIL_ALSA REQUIRED IMPORTED_TARGET alsa)
pkg_check_modules(VIGIL_YAML_CPP REQUIRED IMPORTED_TARGET yaml-cpp)
target_link_libraries(vigil_speech PRIVATE ${VIGIL_POCKETSPHINX_LINK_LIBRARIES} PkgConfig::VIGIL_ESPEAK_NG
  PkgConfig::VIGIL_ALSA PkgConfig::VIGIL_YAML_CPP)

# Benchmarks (not tests): bench/speech/*.cpp -> bench_speech (STT real-time factor, TTS time to
# first audio). Built only on request: `ninja bench_speech`.
file(GLOB VIGIL_SPEECH_BENCH_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/bench/speech/*.cpp)
if(VIGIL_SPEECH_BENCH_SOURCES)
  add_executable(bench_speech EXCLUDE_FROM_ALL ${VIGIL_SPEECH_BENCH_SOURCES})
  target_link_libraries(bench_speech PRIVATE vigil_speech vigil_base vigil_warnings)
  target_compile_definitions(bench_speech PRIVATE VIGIL_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
endif()
