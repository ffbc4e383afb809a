// Helpers to build and read fedrad::v1::Payload, the body of every task and
// result: named arrays of doubles (scalar, vector, matrix) plus named strings.
//
//   fedrad::v1::Payload p;
//   fedrad::AddVector(&p, "sum", {1.0, 2.0});
//   fedrad::AddMatrix(&p, "hessian", 2, 2, {1, 0, 0, 1});
//   p.mutable_strings()->insert({"columns", "age,bmi"});
//   FEDRAD_ASSIGN_OR_RETURN(std::vector<double> sum, fedrad::GetVector(p, "sum"));
//
// Arrays are row-major. Names are what the site's privacy guard checks against
// the task kind's releasable_arrays, so choose them deliberately.
// All functions are thread compatible (no shared state).
#ifndef FEDRAD_PROTO_PAYLOAD_H_
#define FEDRAD_PROTO_PAYLOAD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/fedrad.pb.h"

namespace fedrad {

// Appends an array with the given shape ({} scalar, {n} vector, {r, c}
// matrix). The product of `shape` must equal values.size(); GetArray reports
// a mismatch as DataLoss. A name already present is replaced.
void AddArray(v1::Payload* payload, absl::string_view name,
              const std::vector<int64_t>& shape,
              const std::vector<double>& values);
void AddScalar(v1::Payload* payload, absl::string_view name, double value);
void AddVector(v1::Payload* payload, absl::string_view name,
               const std::vector<double>& values);
// `row_major` holds rows*cols values.
void AddMatrix(v1::Payload* payload, absl::string_view name, int64_t rows,
               int64_t cols, const std::vector<double>& row_major);

// The array called `name`. NotFound naming it (and the names present) when
// absent; DataLoss when its shape does not match its number of values. The
// pointer is owned by `payload` and valid while it is unchanged.
absl::StatusOr<const v1::Array*> GetArray(const v1::Payload& payload,
                                          absl::string_view name);
// The array's values (any shape).
absl::StatusOr<std::vector<double>> GetVector(const v1::Payload& payload,
                                              absl::string_view name);
// A one-value array. InvalidArgument if it holds more than one value.
absl::StatusOr<double> GetScalar(const v1::Payload& payload,
                                 absl::string_view name);
// A matrix: sets *rows, *cols and returns the row-major values.
// InvalidArgument if the array is not two-dimensional.
absl::StatusOr<std::vector<double>> GetMatrix(const v1::Payload& payload,
                                              absl::string_view name,
                                              int64_t* rows, int64_t* cols);
// The string called `key`; NotFound when absent.
absl::StatusOr<std::string> GetString(const v1::Payload& payload,
                                      absl::string_view key);

// A count a peer sent as a double, as an integer: truncated toward zero when
// finite and within +-2^53 (the integers a double holds exactly), otherwise
// `fallback`. A plain static_cast of a double outside int64_t's range is
// undefined behaviour (tests/fuzz/fuzz_coordinator_result found one). Pure.
int64_t CountFromDouble(double value, int64_t fallback = -1);

}  // namespace fedrad

#endif  // FEDRAD_PROTO_PAYLOAD_H_
