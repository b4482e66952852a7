# The CLI tests run the real `vigil` binary.
if(TARGET test_cli)
  add_dependencies(test_cli vigil)
endif()
