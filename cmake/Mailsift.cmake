# Helpers shared by every src/<concern>/CMakeLists.txt.

# mailsift_add_test(NAME SOURCES... LIBS ... [TEST_PREFIX p]): one GoogleTest binary per concern,
# run by CTest. Tests get MAILSIFT_SOURCE_DIR so they can find fixtures and ../shared. TEST_PREFIX
# (optional) is put before every discovered test name ("dns." -> "dns.Wire.Parses"), so that
# `ctest -R dns` selects a concern's tests.
function(mailsift_add_test name)
  cmake_parse_arguments(T "" "TEST_PREFIX" "SOURCES;LIBS" ${ARGN})
  if(NOT MAILSIFT_TESTS)
    return()
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main GTest::gmock)
  target_compile_definitions(${name} PRIVATE MAILSIFT_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 TEST_PREFIX "${T_TEST_PREFIX}"
                       PROPERTIES ENVIRONMENT "MAILSIFT_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()

# mailsift_add_fuzzer(NAME SOURCE CORPUS_DIR LIBS ...):
#  - with MAILSIFT_FUZZ: a libFuzzer binary NAME (run it on CORPUS_DIR to fuzz);
#  - always (tests on): NAME_replay, the same entry point driven by fuzz_replay_main.cc over every
#    file in CORPUS_DIR, registered as a CTest test so the seeds are regression tests.
function(mailsift_add_fuzzer name source corpus)
  cmake_parse_arguments(F "" "" "LIBS" ${ARGN})
  if(MAILSIFT_FUZZ)
    add_executable(${name} ${source})
    target_link_libraries(${name} PRIVATE ${F_LIBS})
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    set_property(GLOBAL APPEND PROPERTY MAILSIFT_FUZZERS "${name}|${corpus}")
  endif()
  if(MAILSIFT_TESTS)
    add_executable(${name}_replay ${source} ${PROJECT_SOURCE_DIR}/src/core/fuzz_replay_main.cc)
    target_link_libraries(${name}_replay PRIVATE ${F_LIBS})
    add_test(NAME ${name}_seeds COMMAND ${name}_replay ${corpus})
  endif()
endfunction()
