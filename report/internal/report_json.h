// Reading results.json for the report, and the number formats and
// statistics helpers (WaldP) its sections share. A missing key is nullptr, a
// non-number is NaN, so every lookup can be chained without checks.
//
//   const double c = Num(At(&results, {"validation", "cox", "pooled", "harrell_c"}));
//   std::string cell = Fmt(c);  // "—" when absent
//
// Private to report/. All functions are pure and thread safe.
#ifndef FEDRAD_REPORT_INTERNAL_REPORT_JSON_H_
#define FEDRAD_REPORT_INTERNAL_REPORT_JSON_H_

#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "proto/results.pb.h"

namespace fedrad::report_internal {

using json = nlohmann::json;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---------------------------------------------------------------------------
// JSON access: a missing key is nullptr, a non-number is NaN.

// The value at `path` (object keys), or nullptr.
const json* At(const json* j, std::initializer_list<const char*> path);
const json* At(const json* j, const std::string& key);
// The number, or NaN.
double Num(const json* j);
// A display string of a scalar (arrays joined by ", "); "" for null/missing.
std::string Str(const json* j);
// An array's numbers; non-numbers become NaN.
std::vector<double> NumArray(const json* j);
bool IsTrue(const json* j);
// Fixed decimals; "—" when not finite.
std::string Fmt(double v, int decimals = 3);
// Numbers of any magnitude with ~4 significant digits.
std::string FmtG(double v);
bool EndsWith(const std::string& s, const std::string& suffix);
// A p-value for HTML ("&lt;0.001" below 0.001).
std::string FmtP(double p);
// Two-sided normal p-value of a Wald z.
double WaldP(double z);
// An object's keys, in order; empty when not an object.
std::vector<std::string> Keys(const json* j);
// A metric's display name (the key itself when unknown).
std::string Pretty(const std::string& key);
// Reference value drawn as a dashed line in a metric's forest plot.
double MetricReference(const std::string& metric);

// A pooled (meta-analysed) estimate of metric <m>:
// validation.<model>.pooled.<m>_meta, _ci_low, _ci_high, _pi_low, _pi_high,
// _i2, _tau2, and _note (why there is none) -- proto/results.proto.
struct Pooled {
  double value = kNaN, ci_low = kNaN, ci_high = kNaN, pi_low = kNaN, pi_high = kNaN;
  double i2 = kNaN, tau2 = kNaN;
  std::string method;
};
Pooled ReadPooled(const fedrad::v1::Results::PooledValidation& pooled, const std::string& m);

// A site's metric <m> with <m>_ci_low/_ci_high (validation.<model>.sites.<site>).
struct Estimate {
  double value = kNaN, ci_low = kNaN, ci_high = kNaN;
};
Estimate ReadEstimate(const fedrad::v1::Results::SiteMetrics& site, const std::string& m);

}  // namespace fedrad::report_internal

#endif  // FEDRAD_REPORT_INTERNAL_REPORT_JSON_H_
