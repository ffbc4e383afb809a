# fedrad::transport: TLS credentials (mutual TLS with per-handshake CRL
# checks), channel/server settings, deadlines, Status conversion at the edge,
# the Payload helpers and the daemons' audit hook. include()d by
# proto/proto.cmake.
fedrad_library(NAME transport
  SRCS ${PROJECT_SOURCE_DIR}/proto/transport.cc
       ${PROJECT_SOURCE_DIR}/proto/payload.cc
       ${PROJECT_SOURCE_DIR}/proto/task_kinds.cc
       ${PROJECT_SOURCE_DIR}/proto/node_audit.cc
       ${PROJECT_SOURCE_DIR}/proto/spec_hash.cc
       ${PROJECT_SOURCE_DIR}/proto/textproto.cc
  PUBLIC_DEPS fedrad::proto fedrad::core gRPC::grpc++ absl::status absl::statusor absl::strings
  PRIVATE_DEPS fedrad::pki OpenSSL::SSL OpenSSL::Crypto fedrad::audit)
fedrad_test(NAME transport_test SRCS ${PROJECT_SOURCE_DIR}/proto/transport_test.cc
  DEPS fedrad::transport fedrad::pki LABELS unit)
fedrad_test(NAME payload_test SRCS ${PROJECT_SOURCE_DIR}/proto/payload_test.cc
  DEPS fedrad::transport LABELS unit)

# Signed messages of verifiable rounds (proto/rounds.proto, issue 12).
fedrad_library(NAME round_signing
  SRCS ${PROJECT_SOURCE_DIR}/proto/round_signing.cc
  PUBLIC_DEPS fedrad::proto fedrad::pki fedrad::transport absl::status absl::statusor)
fedrad_test(NAME round_signing_test SRCS ${PROJECT_SOURCE_DIR}/proto/round_signing_test.cc
  DEPS fedrad::round_signing LABELS unit)

# The sum of one secure round from its signed messages (issue 12): shared by
# the coordinator, the sites' transcript checks and `fedrad audit replay`.
fedrad_library(NAME secure_sum
  SRCS ${PROJECT_SOURCE_DIR}/proto/secure_sum.cc
  PUBLIC_DEPS fedrad::proto absl::status absl::statusor absl::span
  PRIVATE_DEPS fedrad::secagg fedrad::core)
fedrad_test(NAME secure_sum_test SRCS ${PROJECT_SOURCE_DIR}/proto/secure_sum_test.cc
  DEPS fedrad::secure_sum fedrad::secagg LABELS unit)

# One definition per task kind (proto/task_kinds.h, issue 16): typed
# accessors, the table's consistency, and one spelling of each name in the
# tree (reads the source folders site_node/, coordinator/, rounds/).
fedrad_test(NAME task_kinds_test SRCS ${PROJECT_SOURCE_DIR}/proto/task_kinds_test.cc
  DEPS fedrad::transport LABELS unit)
