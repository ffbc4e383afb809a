# One helper defines every fedrad library the same way.
#
#   fedrad_library(NAME core
#                  SRCS status.cc csv.cc
#                  PUBLIC_DEPS absl::status        # appear in public headers
#                  PRIVATE_DEPS OpenSSL::Crypto)   # implementation only
#
# creates the static library `fedrad_core` with the alias `fedrad::core`.
# Include paths are rooted at the repository: #include "core/status.h".
function(fedrad_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(fedrad_${ARG_NAME} STATIC ${ARG_SRCS})
  add_library(fedrad::${ARG_NAME} ALIAS fedrad_${ARG_NAME})
  target_include_directories(fedrad_${ARG_NAME} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
    $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}>)
  target_link_libraries(fedrad_${ARG_NAME} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  target_compile_options(fedrad_${ARG_NAME} PRIVATE -Wall -Wextra -Wno-unused-parameter)
endfunction()

# A GoogleTest binary registered with CTest.
#
#   fedrad_test(NAME csv_test SRCS csv_test.cc DEPS fedrad::core LABELS unit)
function(fedrad_test)
  if(NOT FEDRAD_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "NAME;TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest GTest::gtest_main)
  set_target_properties(${ARG_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_compile_definitions(${ARG_NAME} PRIVATE
    FEDRAD_TEST_DATA_DIR="${FEDRAD_TEST_DATA_DIR}"
    FEDRAD_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    FEDRAD_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
  add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${ARG_NAME} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
endfunction()

# A Google Benchmark binary (not run by CTest).
function(fedrad_benchmark)
  if(NOT FEDRAD_BUILD_BENCHMARKS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} benchmark::benchmark)
  set_target_properties(${ARG_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
  target_compile_definitions(${ARG_NAME} PRIVATE
    FEDRAD_TEST_DATA_DIR="${FEDRAD_TEST_DATA_DIR}"
    FEDRAD_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    FEDRAD_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
endfunction()
