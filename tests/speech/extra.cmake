# Speech test extras (included by tests/CMakeLists.txt inside its per-area loop).
#
# test_speech_slow: the free-form language model over the whole round-trip set (about two and
# a half minutes of CPU), labelled speech_slow: `ctest -LE slow` skips it, `ctest -L speech`
# includes it. test_speech runs the same comparison on a quarter of the set.
file(GLOB vigil_speech_slow_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/slow/*.cpp)
if(vigil_speech_slow_sources)
  add_executable(test_speech_slow ${vigil_speech_slow_sources})
  target_link_libraries(test_speech_slow PRIVATE vigil_speech vigil_base GTest::gtest
    GTest::gtest_main vigil_warnings)
  target_include_directories(test_speech_slow PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  gtest_discover_tests(test_speech_slow DISCOVERY_TIMEOUT 60 PROPERTIES LABELS speech_slow
    TIMEOUT 900)
endif()
