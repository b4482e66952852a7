# test_server extras: the tests talk HTTP with cpp-httplib's client; the browser test (e2e/) runs
# the real `vigil serve` with Chromium through playwright-core.
if(TARGET test_server)
  target_link_libraries(test_server PRIVATE PkgConfig::VIGIL_SERVER_HTTPLIB)
  add_dependencies(test_server vigil)
  add_test(NAME server_e2e_browser
    COMMAND ${CMAKE_CURRENT_LIST_DIR}/e2e/run.sh $<TARGET_FILE:vigil> ${PROJECT_SOURCE_DIR}
            ${CMAKE_CURRENT_BINARY_DIR}/server-e2e)
  set_tests_properties(server_e2e_browser PROPERTIES LABELS "server;e2e" TIMEOUT 300
    SKIP_RETURN_CODE 77)
endif()
