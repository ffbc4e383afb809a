// The results.json lookups, number formats and statistics helpers of
// report_json.h.
#include "report/internal/report_json.h"

#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace fedrad::report_internal {

const json* At(const json* j, std::initializer_list<const char*> path) {
  for (const char* key : path) {
    if (j == nullptr || !j->is_object()) return nullptr;
    auto it = j->find(key);
    if (it == j->end()) return nullptr;
    j = &*it;
  }
  return j;
}
const json* At(const json* j, const std::string& key) {
  if (j == nullptr || !j->is_object()) return nullptr;
  auto it = j->find(key);
  return it == j->end() ? nullptr : &*it;
}

double Num(const json* j) {
  if (j == nullptr || !j->is_number()) return kNaN;
  return j->get<double>();
}

std::string Str(const json* j) {
  if (j == nullptr || j->is_null()) return "";
  if (j->is_string()) return j->get<std::string>();
  if (j->is_boolean()) return j->get<bool>() ? "yes" : "no";
  if (j->is_number_integer()) return absl::StrCat(j->get<int64_t>());
  if (j->is_number()) return absl::StrFormat("%.4g", j->get<double>());
  if (j->is_array()) {
    std::vector<std::string> parts;
    for (const json& e : *j) parts.push_back(Str(&e));
    return absl::StrJoin(parts, ", ");
  }
  return j->dump();
}

std::vector<double> NumArray(const json* j) {
  std::vector<double> out;
  if (j == nullptr || !j->is_array()) return out;
  for (const json& e : *j) out.push_back(e.is_number() ? e.get<double>() : kNaN);
  return out;
}

bool IsTrue(const json* j) {
  return j != nullptr && ((j->is_boolean() && j->get<bool>()) ||
                          (j->is_string() && j->get<std::string>() == "true"));
}

std::string Fmt(double v, int decimals) {
  if (!std::isfinite(v)) return "—";
  return absl::StrFormat("%.*f", decimals, v);
}

// Numbers of any magnitude with ~4 significant digits.
std::string FmtG(double v) {
  if (!std::isfinite(v)) return "—";
  if (v != 0 && (std::abs(v) >= 1e5 || std::abs(v) < 1e-3)) return absl::StrFormat("%.3g", v);
  if (std::abs(v) >= 100) return absl::StrFormat("%.1f", v);
  return absl::StrFormat("%.3g", v);
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string FmtP(double p) {
  if (!std::isfinite(p)) return "—";
  if (p < 0.001) return "&lt;0.001";
  return absl::StrFormat("%.3f", p);
}

// Two-sided normal p-value of a Wald z.
double WaldP(double z) { return std::erfc(std::abs(z) / std::sqrt(2.0)); }

std::vector<std::string> Keys(const json* j) {
  std::vector<std::string> out;
  if (j == nullptr || !j->is_object()) return out;
  for (auto it = j->begin(); it != j->end(); ++it) out.push_back(it.key());
  return out;
}

std::string Pretty(const std::string& key) {
  static const std::map<std::string, std::string> kNames = {
      {"harrell_c", "Harrell's C"},
      {"uno_c", "Uno's C"},
      {"auc_t", "AUC(t)"},
      {"auc", "AUC"},
      {"brier_t", "Brier(t)"},
      {"brier", "Brier"},
      {"integrated_brier", "Integrated Brier"},
      {"calibration_slope", "Calibration slope"},
      {"calibration_intercept", "Calibration intercept"},
      {"oe_ratio_t", "O/E(t)"},
      {"sensitivity", "Sensitivity"},
      {"specificity", "Specificity"},
      {"sensitivity_youden", "Sensitivity (Youden threshold)"},
      {"specificity_youden", "Specificity (Youden threshold)"},
      {"youden_threshold", "Youden threshold"},
  };
  auto it = kNames.find(key);
  return it == kNames.end() ? key : it->second;
}

// Reference value drawn as a dashed line in a metric's forest plot.
double MetricReference(const std::string& metric) {
  if (metric == "harrell_c" || metric == "uno_c" || metric == "auc_t" || metric == "auc") {
    return 0.5;
  }
  if (metric == "calibration_slope" || metric == "oe_ratio_t") return 1.0;
  if (metric == "calibration_intercept") return 0.0;
  return kNaN;
}

namespace {

// The double field `name` of `message` (a metric named at run time: the
// sections list the metrics a model has); NaN when unset or unknown.
double DoubleField(const google::protobuf::Message& message, const std::string& name) {
  const google::protobuf::FieldDescriptor* f = message.GetDescriptor()->FindFieldByName(name);
  if (f == nullptr || f->is_repeated() ||
      f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_DOUBLE ||
      !message.GetReflection()->HasField(message, f)) {
    return kNaN;
  }
  return message.GetReflection()->GetDouble(message, f);
}

}  // namespace

Pooled ReadPooled(const fedrad::v1::Results::PooledValidation& pooled, const std::string& m) {
  Pooled p;
  const std::string k = m + "_meta";
  p.value = DoubleField(pooled, k);
  p.ci_low = DoubleField(pooled, k + "_ci_low");
  p.ci_high = DoubleField(pooled, k + "_ci_high");
  p.pi_low = DoubleField(pooled, k + "_pi_low");
  p.pi_high = DoubleField(pooled, k + "_pi_high");
  p.i2 = DoubleField(pooled, k + "_i2");
  p.tau2 = DoubleField(pooled, k + "_tau2");
  const google::protobuf::FieldDescriptor* note =
      pooled.GetDescriptor()->FindFieldByName(k + "_note");
  if (note != nullptr) p.method = pooled.GetReflection()->GetString(pooled, note);
  return p;
}

Estimate ReadEstimate(const fedrad::v1::Results::SiteMetrics& site, const std::string& m) {
  Estimate e;
  e.value = DoubleField(site, m);
  e.ci_low = DoubleField(site, m + "_ci_low");
  e.ci_high = DoubleField(site, m + "_ci_high");
  return e;
}

}  // namespace fedrad::report_internal
