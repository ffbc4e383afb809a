# Compiler flags of a FEDRAD_FUZZ=ON build (included from the top-level
# CMakeLists.txt before any library is defined, so every fedrad library and
# the generated protobuf code get them).
#
# * -fsanitize=fuzzer-no-link: coverage instrumentation for libFuzzer in the
#   libraries; only the targets (tests/fuzz/CMakeLists.txt) link libFuzzer.
# * address,undefined with -fno-sanitize-recover: any report aborts, so
#   libFuzzer records it as a crash with its input.
# * -fno-sanitize=vptr: the vptr check needs the RTTI of every class it meets
#   to come from instrumented code; Debian's protobuf, gRPC and ITK are not
#   (their polymorphic classes, e.g. google::protobuf::Message, would be
#   reported or missed depending on how their type_info was merged). The
#   other UBSan checks stay on.
# * -O1 (RelWithDebInfo otherwise -O2): a third less build time for the CI
#   regression runs, the stack traces stay readable.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "FEDRAD_FUZZ=ON needs clang: CC=clang CXX=clang++ cmake ... "
                      "(tests/fuzz/run.sh does it)")
endif()
set(FEDRAD_SANITIZE address,undefined)
add_compile_options(-fsanitize=fuzzer-no-link,${FEDRAD_SANITIZE} -fno-sanitize=vptr
                    -fno-sanitize-recover=all -fno-omit-frame-pointer -O1 -g)
# Executables other than the fuzz targets (fedrad-site, ...) still link the
# sanitizer runtimes (the coverage hooks then go to ASan's no-op defaults).
add_link_options(-fsanitize=${FEDRAD_SANITIZE} -fno-sanitize=vptr)
# Debian's ITK headers refuse clang: see tests/fuzz/itk_clang.h.
add_compile_options("SHELL:-include ${CMAKE_CURRENT_LIST_DIR}/itk_clang.h")
