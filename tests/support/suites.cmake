# lwauth_discover_tests(TARGET [gtest_discover_tests arguments]): the ctest entries of a
# GoogleTest program. In the dev preset, gtest_discover_tests() as it is: one entry a test.
# In the asan preset (LWAUTH_SANITIZE), one entry a test suite (`Suite.*`, run by
# --gtest_filter): every process of an instrumented test program pays the sanitizer
# runtime's start and LeakSanitizer's check at its exit, about a second a process on 2
# cores, which per test would make the suite's 1,500 entries take longer than CI has
# (docs/SECURITY.md, "In CI"). A suite's TIMEOUT is the per-test TIMEOUT given times its
# number of tests. The suites are listed after each build of TARGET
# (tests/support/suites-list.cmake), as gtest_discover_tests lists the tests.
set(LWAUTH_SUITES_LIST_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/suites-list.cmake)

function(lwauth_discover_tests target)
  if(NOT LWAUTH_SANITIZE)
    gtest_discover_tests(${target} ${ARGN})
    return()
  endif()
  cmake_parse_arguments(PARSE_ARGV 1 ARG "NO_PRETTY_VALUES" "DISCOVERY_TIMEOUT" "PROPERTIES")
  set(timeout 1500)
  set(props "")
  list(LENGTH ARG_PROPERTIES n)
  math(EXPR last "${n} - 1")
  foreach(i RANGE 0 ${last} 2)
    math(EXPR j "${i} + 1")
    list(GET ARG_PROPERTIES ${i} key)
    list(GET ARG_PROPERTIES ${j} value)
    if(key STREQUAL "TIMEOUT")
      set(timeout ${value})
    else()
      string(APPEND props " ${key} [==[${value}]==]")
    endif()
  endforeach()
  set(base ${CMAKE_CURRENT_BINARY_DIR}/${target})
  file(WRITE ${base}_suite_props.cmake "set(LWAUTH_SUITE_PROPS [===[${props}]===])\n")
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -D TEST_EXECUTABLE=$<TARGET_FILE:${target}>
            -D TEST_TIMEOUT=${timeout} -D PROPS_FILE=${base}_suite_props.cmake
            -D CTEST_FILE=${base}_suites.cmake -P ${LWAUTH_SUITES_LIST_SCRIPT}
    VERBATIM)
  file(WRITE ${base}_include.cmake
    "if(EXISTS [==[${base}_suites.cmake]==])\n"
    "  include([==[${base}_suites.cmake]==])\n"
    "else()\n"
    "  add_test(${target}_NOT_BUILT ${target}_NOT_BUILT)\n"
    "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${base}_include.cmake)
endfunction()
