# The helpers every CMakeLists.txt of fedrad uses: one defines every library,
# one every test, one every benchmark, one every other executable, the same
# way (same include folders, same warnings).

# The warnings fedrad's own code compiles with: every library, executable,
# test and benchmark defined below (not generated protobuf code, whose
# include folder is a SYSTEM one, nor third-party headers). The build has
# none; with -DFEDRAD_WERROR=ON (quickstart.sh test, i.e. CI) a new one fails
# the build.
set(FEDRAD_WARNINGS -Wall -Wextra)
if(FEDRAD_WERROR)
  list(APPEND FEDRAD_WARNINGS -Werror)
endif()

# Compiles `target`'s own sources with FEDRAD_WARNINGS. The helpers below
# call it; a target made with add_executable/add_library elsewhere (the fuzz
# targets) calls it too.
function(fedrad_warnings target)
  target_compile_options(${target} PRIVATE ${FEDRAD_WARNINGS})
endfunction()

# The include folders every fedrad target sees: the repository root, and the
# build folder where protoc writes the generated code (SYSTEM: warnings in
# generated headers are not ours to fix).
function(fedrad_include_dirs target scope)
  target_include_directories(${target} ${scope} $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>)
  target_include_directories(${target} SYSTEM ${scope} $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}>)
endfunction()

# A fedrad library.
#
#   fedrad_library(NAME core
#                  SRCS status.cc csv.cc
#                  PUBLIC_DEPS absl::status        # appear in public headers
#                  PRIVATE_DEPS OpenSSL::Crypto)   # implementation only
#
# creates the static library `fedrad_core` with the alias `fedrad::core`.
# Include paths are rooted at the repository: #include "core/status.h".
# Sources come from the calling folder only (a library never takes another
# folder's files). Compiled with FEDRAD_WARNINGS (-Wall -Wextra); the build
# has no warnings.
#
# PROTOS lists .proto files (like SRCS) to compile into the library with
# protoc and the gRPC plugin, imported from the repository root:
# proto/fedrad.proto is included as "proto/fedrad.pb.h" and
# "proto/fedrad.grpc.pb.h". Generated
# code is not ours, so a library of PROTOS is compiled without the warning
# flags.
function(fedrad_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;PROTOS;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(fedrad_${ARG_NAME} STATIC ${ARG_SRCS} ${ARG_PROTOS})
  add_library(fedrad::${ARG_NAME} ALIAS fedrad_${ARG_NAME})
  fedrad_include_dirs(fedrad_${ARG_NAME} PUBLIC)
  target_link_libraries(fedrad_${ARG_NAME} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  if(ARG_PROTOS)
    protobuf_generate(TARGET fedrad_${ARG_NAME} LANGUAGE cpp
      IMPORT_DIRS ${PROJECT_SOURCE_DIR} PROTOC_OUT_DIR ${PROJECT_BINARY_DIR})
    protobuf_generate(TARGET fedrad_${ARG_NAME} LANGUAGE grpc
      GENERATE_EXTENSIONS .grpc.pb.h .grpc.pb.cc
      PLUGIN protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>
      IMPORT_DIRS ${PROJECT_SOURCE_DIR} PROTOC_OUT_DIR ${PROJECT_BINARY_DIR})
  else()
    fedrad_warnings(fedrad_${ARG_NAME})
  endif()
endfunction()

# A test registered with CTest. Two forms:
#
# A GoogleTest binary built from SRCS (into <build>/tests):
#
#   fedrad_test(NAME csv_test SRCS csv_test.cc DEPS fedrad::core LABELS unit)
#
#   DEPS     libraries it links (GoogleTest and GoogleMock are added)
#   LABELS   CTest labels (default: unit)
#   TIMEOUT  seconds (default: 300)
#   NEEDS    executables that must be built before it runs (e.g. fedrad-site)
#   CASES    instead of one CTest entry for the binary, one per
#            "ctest_name=gtest_filter" item (e.g. one per data set, so that
#            they run in parallel)
#
# A command (a script, or a binary defined elsewhere):
#
#   fedrad_test(NAME deploy_lint COMMAND bash lint.sh LABELS lint SKIP_RETURN_CODE 77)
#
#   SKIP_RETURN_CODE  the exit code CTest shows as "Skipped" (e.g. 77 when a
#                     tool is missing)
#   RUN_SERIAL        run alone (namespaces, ports, the machine's cores)
#
# Compiled tests see FEDRAD_TEST_DATA_DIR, FEDRAD_SOURCE_DIR and
# FEDRAD_BIN_DIR (where fedrad, fedrad-site and fedrad-coordinator are).
function(fedrad_test)
  if(NOT FEDRAD_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "RUN_SERIAL" "NAME;TIMEOUT;SKIP_RETURN_CODE"
    "SRCS;DEPS;LABELS;NEEDS;CASES;COMMAND" ${ARGN})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set(tests)
  if(ARG_COMMAND)
    add_test(NAME ${ARG_NAME} COMMAND ${ARG_COMMAND})
    list(APPEND tests ${ARG_NAME})
  else()
    add_executable(${ARG_NAME} ${ARG_SRCS})
    target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest GTest::gtest_main)
    fedrad_include_dirs(${ARG_NAME} PRIVATE)
    fedrad_warnings(${ARG_NAME})
    set_target_properties(${ARG_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
    target_compile_definitions(${ARG_NAME} PRIVATE
      FEDRAD_TEST_DATA_DIR="${FEDRAD_TEST_DATA_DIR}"
      FEDRAD_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
      FEDRAD_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
    if(ARG_NEEDS)
      add_dependencies(${ARG_NAME} ${ARG_NEEDS})
    endif()
    if(ARG_CASES)
      foreach(case ${ARG_CASES})
        string(FIND "${case}" "=" eq)
        string(SUBSTRING "${case}" 0 ${eq} case_name)
        math(EXPR filter_start "${eq} + 1")
        string(SUBSTRING "${case}" ${filter_start} -1 filter)
        add_test(NAME ${case_name} COMMAND ${ARG_NAME} --gtest_filter=${filter})
        list(APPEND tests ${case_name})
      endforeach()
    else()
      add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME})
      list(APPEND tests ${ARG_NAME})
    endif()
  endif()
  set_tests_properties(${tests} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
  if(ARG_SKIP_RETURN_CODE)
    set_tests_properties(${tests} PROPERTIES SKIP_RETURN_CODE ${ARG_SKIP_RETURN_CODE})
  endif()
  if(ARG_RUN_SERIAL)
    set_tests_properties(${tests} PROPERTIES RUN_SERIAL TRUE)
  endif()
endfunction()

# A Google Benchmark binary (into <build>/bench; not run by CTest).
#
#   fedrad_benchmark(NAME cox_benchmark SRCS cox_benchmark.cc DEPS fedrad::models)
function(fedrad_benchmark)
  if(NOT FEDRAD_BUILD_BENCHMARKS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} benchmark::benchmark)
  fedrad_include_dirs(${ARG_NAME} PRIVATE)
  fedrad_warnings(${ARG_NAME})
  set_target_properties(${ARG_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
  target_compile_definitions(${ARG_NAME} PRIVATE
    FEDRAD_TEST_DATA_DIR="${FEDRAD_TEST_DATA_DIR}"
    FEDRAD_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    FEDRAD_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
endfunction()

# An executable of fedrad's own (the three daemons/commands, test helpers,
# benchmark peers), compiled with FEDRAD_WARNINGS.
#
#   fedrad_executable(NAME fedrad-site SRCS site_main.cc DEPS fedrad::site)
#
#   DEPS        libraries it links (PRIVATE)
#   OUTPUT_DIR  where the binary goes: bin (default; fedrad, fedrad-site,
#               fedrad-coordinator and what tests run as FEDRAD_BIN_DIR),
#               tests or bench (under the build folder)
function(fedrad_executable)
  cmake_parse_arguments(ARG "" "NAME;OUTPUT_DIR" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
  fedrad_include_dirs(${ARG_NAME} PRIVATE)
  fedrad_warnings(${ARG_NAME})
  if(ARG_OUTPUT_DIR)
    set_target_properties(${ARG_NAME} PROPERTIES
      RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/${ARG_OUTPUT_DIR})
  endif()
endfunction()
