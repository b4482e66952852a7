# The Python side of the report contract (training/), checked with the standard library only:
# corpus targets state exactly their input's facts, events follow schema/event.schema.json, and
# training/testdata/prompts.jsonl is current. Include from tests/CMakeLists.txt:
#   include(${PROJECT_SOURCE_DIR}/training/tests.cmake OPTIONAL)
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME training_corpus
    COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/training/test_corpus.py)
  set_tests_properties(training_corpus PROPERTIES LABELS "fusion;training" TIMEOUT 120
    ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
endif()
