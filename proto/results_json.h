// results.json to and from its definition, proto/results.proto.
//
// PrintResults prints a v1::Results with protobuf's JSON printer (proto field
// names, so every key is the one docs/results.md lists), then applies the
// schema's two rules: a NaN double prints as `null`, and a list or map
// marked (json_keep_empty) prints even when empty (docs: results.proto).
// Keys are sorted and indented by two spaces, so that the same results give
// the same bytes (protobuf prints map entries in no fixed order).
// ParseResults is the inverse: `null` in a double field becomes NaN, and a
// key results.proto does not define is an error (ignore_unknown_fields is
// false), naming the key.
//
//   v1::Results r;
//   r.mutable_study()->set_state("SUCCEEDED");
//   FEDRAD_ASSIGN_OR_RETURN(std::string text, PrintResults(r));
//   FEDRAD_ASSIGN_OR_RETURN(v1::Results back, ParseResults(text));
//
// Thread safe (no shared state).
#ifndef FEDRAD_PROTO_RESULTS_JSON_H_
#define FEDRAD_PROTO_RESULTS_JSON_H_

#include <cmath>
#include <limits>
#include <string>

#include "absl/status/statusor.h"
#include "proto/results.pb.h"

namespace fedrad {

// The JSON text of `results` (ending in a newline). Internal on a printer
// failure (should not happen for a valid message).
absl::StatusOr<std::string> PrintResults(const v1::Results& results);

// Parses results.json text. InvalidArgument naming `source` (e.g. the file)
// when the text is not JSON, or when a key or a value's type does not match
// proto/results.proto (the protobuf parser's message names the field).
absl::StatusOr<v1::Results> ParseResults(const std::string& text,
                                         const std::string& source = "results.json");

// NaN: the value of a double that results.json prints as null.
constexpr double kResultsNull = std::numeric_limits<double>::quiet_NaN();

}  // namespace fedrad

#endif  // FEDRAD_PROTO_RESULTS_JSON_H_
