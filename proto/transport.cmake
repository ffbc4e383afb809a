# fedrad::transport: TLS credentials (mutual TLS with per-handshake CRL
# checks), channel/server settings, deadlines, Status conversion at the edge,
# and the Payload helpers. include()d by proto/proto.cmake.
fedrad_library(NAME transport
  SRCS ${PROJECT_SOURCE_DIR}/proto/transport.cc ${PROJECT_SOURCE_DIR}/proto/payload.cc
  PUBLIC_DEPS fedrad::proto fedrad::core gRPC::grpc++ absl::status absl::statusor absl::strings
  PRIVATE_DEPS OpenSSL::SSL OpenSSL::Crypto)
