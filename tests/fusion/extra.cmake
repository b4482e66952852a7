# test_fusion extras: the dispatcher tests run a loopback HTTP server (cpp-httplib) and an MQTT
# subscriber (libmosquitto); the end-to-end tests run the real `vigil` binary.
if(TARGET test_fusion)
  target_link_libraries(test_fusion PRIVATE PkgConfig::VIGIL_MOSQUITTO PkgConfig::VIGIL_HTTPLIB)
  add_dependencies(test_fusion vigil)
  set_property(TARGET test_fusion APPEND PROPERTY COMPILE_DEFINITIONS
    VIGIL_VIGIL_BINARY="$<TARGET_FILE:vigil>")
endif()
