# Link dependencies of vigil_server (Debian 12 packages): cpp-httplib (libcpp-httplib-dev 0.11: a
# compiled library whose header needs the OpenSSL/zlib/brotli defines its pkg-config file
# carries), nlohmann-json; the decision engine (vigil_fusion) for the event-store and question
# adapters. The dashboard (web/) is embedded into the library at build time.
find_package(PkgConfig REQUIRED)
if(NOT TARGET PkgConfig::VIGIL_SERVER_HTTPLIB)
  pkg_check_modules(VIGIL_SERVER_HTTPLIB REQUIRED IMPORTED_TARGET GLOBAL cpp-httplib)
endif()
if(TARGET vigil_server)
  get_target_property(_vigil_server_type vigil_server TYPE)
  if(NOT _vigil_server_type STREQUAL "INTERFACE_LIBRARY")
    target_link_libraries(vigil_server
      PUBLIC vigil_llm vigil_fusion vigil_vision vigil_speech nlohmann_json::nlohmann_json
             Threads::Threads
      PRIVATE PkgConfig::VIGIL_SERVER_HTTPLIB)

    # web/ -> web_assets.cpp (byte arrays), regenerated when a dashboard file changes.
    file(GLOB_RECURSE VIGIL_WEB_FILES CONFIGURE_DEPENDS
      ${PROJECT_SOURCE_DIR}/web/*.html ${PROJECT_SOURCE_DIR}/web/*.css
      ${PROJECT_SOURCE_DIR}/web/*.js ${PROJECT_SOURCE_DIR}/web/*.svg)
    list(FILTER VIGIL_WEB_FILES EXCLUDE REGEX "/node_modules/")
    set(_vigil_web_cpp ${CMAKE_CURRENT_BINARY_DIR}/web_assets.cpp)
    add_custom_command(OUTPUT ${_vigil_web_cpp}
      COMMAND ${CMAKE_COMMAND} -DWEB_DIR=${PROJECT_SOURCE_DIR}/web -DOUT=${_vigil_web_cpp}
              -P ${CMAKE_CURRENT_SOURCE_DIR}/embed_web.cmake
      DEPENDS ${VIGIL_WEB_FILES} ${CMAKE_CURRENT_SOURCE_DIR}/embed_web.cmake
      COMMENT "Embedding the dashboard (web/)" VERBATIM)
    target_sources(vigil_server PRIVATE ${_vigil_web_cpp})
  endif()
endif()

# The load benchmark (bench/server): not a test; run by hand (docs/SERVER.md).
file(GLOB VIGIL_SERVER_BENCH_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/bench/server/*.cpp)
if(VIGIL_SERVER_BENCH_SOURCES AND TARGET vigil_server)
  add_executable(bench_server_load ${VIGIL_SERVER_BENCH_SOURCES})
  target_link_libraries(bench_server_load PRIVATE vigil_server vigil_llm vigil_base
    PkgConfig::VIGIL_SERVER_HTTPLIB vigil_warnings)
  target_compile_definitions(bench_server_load PRIVATE VIGIL_SHARED_DIR="${VIGIL_SHARED_DIR}")
endif()
