#include "site_node/site_fits.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace fedrad::site {
namespace {

std::string Key(const std::string& model) { return absl::StrCat("site_fit/", model); }

}  // namespace

void StoreSiteFit(std::map<std::string, std::string>* state, const std::string& model,
                  const SiteFit& fit) {
  std::vector<std::string> values;
  for (double b : fit.beta) values.push_back(absl::StrFormat("%.17g", b));
  // Two lines: covariates (tab-separated), coefficients (tab-separated).
  (*state)[Key(model)] =
      absl::StrCat(absl::StrJoin(fit.covariates, "\t"), "\n", absl::StrJoin(values, "\t"));
}

std::optional<SiteFit> FindSiteFit(const std::map<std::string, std::string>& state,
                                   const std::string& model) {
  auto it = state.find(Key(model));
  if (it == state.end()) return std::nullopt;
  std::vector<std::string> lines = absl::StrSplit(it->second, absl::MaxSplits('\n', 1));
  if (lines.size() != 2) return std::nullopt;
  SiteFit fit;
  fit.covariates = absl::StrSplit(lines[0], '\t', absl::SkipEmpty());
  for (absl::string_view v : absl::StrSplit(lines[1], '\t', absl::SkipEmpty())) {
    double d = 0;
    if (!absl::SimpleAtod(v, &d)) return std::nullopt;
    fit.beta.push_back(d);
  }
  return fit;
}

bool SameCoefficients(const SiteFit& fit, const std::vector<double>& beta) {
  if (beta.size() != fit.beta.size()) return false;
  for (size_t i = 0; i < beta.size(); ++i) {
    const double a = fit.beta[i], b = beta[i];
    if (!std::isfinite(b)) return false;
    if (std::fabs(a - b) > 1e-12 * std::max(1.0, std::max(std::fabs(a), std::fabs(b)))) return false;
  }
  return true;
}

}  // namespace fedrad::site
