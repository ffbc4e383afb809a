// Reading and writing the text-format protobuf files users write: daemon
// configs (proto/config.proto) and study specs (proto/study.proto).
//
//   fedrad::v1::SiteConfig config;
//   FEDRAD_RETURN_IF_ERROR(fedrad::ReadTextProto("site.textproto", &config));
#ifndef FEDRAD_PROTO_TEXTPROTO_H_
#define FEDRAD_PROTO_TEXTPROTO_H_

#include <string>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace fedrad {

// Parses the file into *message. NotFound when it cannot be read;
// InvalidArgument naming the file, line and column of a syntax error or an
// unknown field.
absl::Status ReadTextProto(const std::string& path,
                           google::protobuf::Message* message);
// Parses text; `source` names it in errors.
absl::Status ParseTextProto(const std::string& text, const std::string& source,
                            google::protobuf::Message* message);
// Text format of the message.
std::string ToTextProto(const google::protobuf::Message& message);

}  // namespace fedrad

#endif  // FEDRAD_PROTO_TEXTPROTO_H_
