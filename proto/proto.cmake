# The wire protocol and the study spec (package fedrad.v1), generated with
# protoc and the gRPC C++ plugin. Include as "proto/fedrad.pb.h",
# "proto/fedrad.grpc.pb.h", "proto/study.pb.h".
#
# This file is include()d from the top-level CMakeLists.txt (not
# add_subdirectory) so that protoc sees the repository root as its import
# path: files are registered as "proto/<name>.proto" and generated into
# build/proto/.
set(FEDRAD_PROTOS
  proto/fedrad.proto proto/study.proto proto/harmonization.proto proto/models.proto
  proto/config.proto
  proto/feature_settings.proto proto/feature_extraction.proto proto/rounds.proto proto/values.proto
  proto/results.proto)
fedrad_library(NAME proto PROTOS ${FEDRAD_PROTOS}
  PUBLIC_DEPS protobuf::libprotobuf gRPC::grpc++)

# results.json <-> v1::Results (proto/results_json.h): the printer every
# study uses and the parser the report and `fedrad audit replay` use.
fedrad_library(NAME results_json
  SRCS ${PROJECT_SOURCE_DIR}/proto/results_json.cc
  PUBLIC_DEPS fedrad::proto absl::status absl::statusor
  PRIVATE_DEPS absl::strings nlohmann_json::nlohmann_json)
fedrad_test(NAME results_json_test SRCS ${PROJECT_SOURCE_DIR}/proto/results_json_test.cc
  DEPS fedrad::results_json nlohmann_json::nlohmann_json LABELS unit)

# The transport layer beside the protocol (TLS credentials, deadlines, Status
# conversion at the edge): proto/transport.cmake.
include(${PROJECT_SOURCE_DIR}/proto/transport.cmake)
