# Link dependencies of vigil_fusion (Debian 12 packages): SQLite for the event store
# (libsqlite3-dev), libmosquitto for MQTT alerts (libmosquitto-dev), cpp-httplib for the webhook
# client (libcpp-httplib-dev: a compiled library whose header needs the same OpenSSL/zlib/brotli
# defines, which its pkg-config file carries), yaml-cpp for the run configuration. Fusion sits
# on top of llm, vision and speech.
find_package(PkgConfig REQUIRED)
find_package(yaml-cpp REQUIRED)
pkg_check_modules(VIGIL_SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(VIGIL_MOSQUITTO REQUIRED IMPORTED_TARGET GLOBAL libmosquitto)
pkg_check_modules(VIGIL_HTTPLIB REQUIRED IMPORTED_TARGET GLOBAL cpp-httplib)
if(TARGET vigil_fusion)
  get_target_property(_vigil_fusion_type vigil_fusion TYPE)
  if(NOT _vigil_fusion_type STREQUAL "INTERFACE_LIBRARY")
    target_link_libraries(vigil_fusion
      PUBLIC vigil_llm vigil_vision vigil_speech nlohmann_json::nlohmann_json Threads::Threads
             PkgConfig::VIGIL_SQLITE3
      PRIVATE yaml-cpp PkgConfig::VIGIL_MOSQUITTO PkgConfig::VIGIL_HTTPLIB)
  endif()
endif()
if(TARGET vigil_fusion)
  get_target_property(_vigil_fusion_type vigil_fusion TYPE)
  if(NOT _vigil_fusion_type STREQUAL "INTERFACE_LIBRARY")
    # Where the bundled model and the shared test model are looked for (config.cpp).
    target_compile_definitions(vigil_fusion PRIVATE VIGIL_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
      VIGIL_SHARED_DIR="${VIGIL_SHARED_DIR}")
  endif()
endif()
