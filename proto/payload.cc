#include "proto/payload.h"

#include <cmath>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace fedrad {

void AddArray(v1::Payload* payload, absl::string_view name,
              const std::vector<int64_t>& shape,
              const std::vector<double>& values) {
  v1::Array* array = nullptr;
  for (auto& a : *payload->mutable_arrays()) {
    if (a.name() == name) array = &a;
  }
  if (array == nullptr) array = payload->add_arrays();
  array->Clear();
  array->set_name(std::string(name));
  for (int64_t d : shape) array->add_shape(d);
  array->mutable_values()->Assign(values.begin(), values.end());
}

void AddScalar(v1::Payload* payload, absl::string_view name, double value) {
  AddArray(payload, name, {}, {value});
}

void AddVector(v1::Payload* payload, absl::string_view name,
               const std::vector<double>& values) {
  AddArray(payload, name, {static_cast<int64_t>(values.size())}, values);
}

void AddMatrix(v1::Payload* payload, absl::string_view name, int64_t rows,
               int64_t cols, const std::vector<double>& row_major) {
  AddArray(payload, name, {rows, cols}, row_major);
}

absl::StatusOr<const v1::Array*> GetArray(const v1::Payload& payload,
                                          absl::string_view name) {
  std::vector<std::string> present;
  for (const auto& a : payload.arrays()) {
    if (a.name() != name) {
      present.push_back(a.name());
      continue;
    }
    // The shape comes from a peer: a negative or overflowing product
    // (found by tests/fuzz/fuzz_site_task) is a mismatch, not a wrap-around.
    int64_t expected = 1;
    for (int64_t d : a.shape()) {
      if (d < 0 || (d > 0 && expected > std::numeric_limits<int64_t>::max() / d)) {
        return absl::DataLossError(absl::StrCat("array '", name, "' has a shape of ",
                                                a.shape_size(), " dimensions that holds no ",
                                                a.values_size(), " values"));
      }
      expected *= d;
    }
    if (expected != a.values_size()) {
      return absl::DataLossError(absl::StrCat(
          "array '", name, "' has ", a.values_size(),
          " values but its shape holds ", expected));
    }
    return &a;
  }
  return absl::NotFoundError(absl::StrCat(
      "payload has no array '", name, "' (arrays: ",
      present.empty() ? "none" : absl::StrJoin(present, ", "), ")"));
}

absl::StatusOr<std::vector<double>> GetVector(const v1::Payload& payload,
                                              absl::string_view name) {
  auto array = GetArray(payload, name);
  if (!array.ok()) return array.status();
  return std::vector<double>((*array)->values().begin(),
                             (*array)->values().end());
}

absl::StatusOr<double> GetScalar(const v1::Payload& payload,
                                 absl::string_view name) {
  auto array = GetArray(payload, name);
  if (!array.ok()) return array.status();
  if ((*array)->values_size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "array '", name, "' holds ", (*array)->values_size(),
        " values, expected one"));
  }
  return (*array)->values(0);
}

absl::StatusOr<std::vector<double>> GetMatrix(const v1::Payload& payload,
                                              absl::string_view name,
                                              int64_t* rows, int64_t* cols) {
  auto array = GetArray(payload, name);
  if (!array.ok()) return array.status();
  if ((*array)->shape_size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "array '", name, "' has ", (*array)->shape_size(),
        " dimensions, expected a matrix"));
  }
  *rows = (*array)->shape(0);
  *cols = (*array)->shape(1);
  return std::vector<double>((*array)->values().begin(),
                             (*array)->values().end());
}

int64_t CountFromDouble(double value, int64_t fallback) {
  constexpr double kExact = 9007199254740992.0;  // 2^53
  if (!std::isfinite(value) || value > kExact || value < -kExact) return fallback;
  return static_cast<int64_t>(value);
}

absl::StatusOr<std::string> GetString(const v1::Payload& payload,
                                      absl::string_view key) {
  auto it = payload.strings().find(std::string(key));
  if (it == payload.strings().end()) {
    return absl::NotFoundError(
        absl::StrCat("payload has no string '", key, "'"));
  }
  return it->second;
}

}  // namespace fedrad
