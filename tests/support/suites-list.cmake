# Writes CTEST_FILE: one ctest entry for each test suite of TEST_EXECUTABLE (its
# --gtest_list_tests), with the properties of PROPS_FILE and TEST_TIMEOUT seconds for each
# of the suite's tests (tests/support/suites.cmake).
execute_process(COMMAND ${TEST_EXECUTABLE} --gtest_list_tests
                OUTPUT_VARIABLE listing RESULT_VARIABLE status TIMEOUT 120)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${TEST_EXECUTABLE} --gtest_list_tests: ${status}\n${listing}")
endif()
include(${PROPS_FILE})
string(REPLACE "\n" ";" lines "${listing}")
set(suites "")
foreach(line IN LISTS lines)
  if(line MATCHES "^([^ #][^ ]*)\\.( *#.*)?$")
    set(suite ${CMAKE_MATCH_1})
    list(APPEND suites ${suite})
    set(count_${suite} 0)
  elseif(line MATCHES "^  [^ ]" AND DEFINED suite)
    math(EXPR count_${suite} "${count_${suite}} + 1")
  endif()
endforeach()
set(out "")
foreach(suite IN LISTS suites)
  math(EXPR timeout "${TEST_TIMEOUT} * ${count_${suite}}")
  string(APPEND out
    "add_test([==[${suite}.*]==] [==[${TEST_EXECUTABLE}]==] [==[--gtest_filter=${suite}.*]==])\n"
    "set_tests_properties([==[${suite}.*]==] PROPERTIES TIMEOUT ${timeout}${LWAUTH_SUITE_PROPS})\n")
endforeach()
file(WRITE ${CTEST_FILE} "${out}")
