#include "models/data.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/pattern.h"
#include "core/status.h"

namespace fedrad::models {

absl::StatusOr<std::vector<std::string>> ResolveCovariates(
    const std::vector<std::string>& header, const std::vector<std::string>& listed,
    const std::string& regex, const std::vector<std::string>& excluded) {
  auto is_excluded = [&](const std::string& c) {
    return std::find(excluded.begin(), excluded.end(), c) != excluded.end();
  };
  auto in_header = [&](const std::string& c) {
    return std::find(header.begin(), header.end(), c) != header.end();
  };
  std::vector<std::string> out;
  if (listed.empty() && regex.empty()) {
    for (const auto& c : header) {
      if (!is_excluded(c)) out.push_back(c);
    }
  } else {
    for (const auto& c : listed) {
      if (!in_header(c)) {
        return absl::InvalidArgumentError(absl::StrCat("covariate '", c, "' is not a column"));
      }
      if (is_excluded(c)) {
        return absl::InvalidArgumentError(
            absl::StrCat("covariate '", c, "' is the id or an outcome column"));
      }
      if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
    }
    if (!regex.empty()) {
      // RE2 (linear time, bounded memory): the pattern comes from a study spec.
      FEDRAD_ASSIGN_OR_RETURN(Pattern re, Pattern::Compile(regex, "covariate_regex"));
      for (const auto& c : header) {
        if (is_excluded(c) || std::find(out.begin(), out.end(), c) != out.end()) continue;
        if (re.FullMatch(c)) out.push_back(c);
      }
    }
  }
  if (out.empty()) return absl::InvalidArgumentError("the model has no covariates");
  return out;
}

OutcomeColumns OutcomeColumns::Survival(std::string time, std::string event,
                                        std::vector<std::string> event_values) {
  OutcomeColumns o;
  o.survival = true;
  o.time = std::move(time);
  o.event = std::move(event);
  o.event_values = std::move(event_values);
  return o;
}

OutcomeColumns OutcomeColumns::Binary(std::string outcome) {
  OutcomeColumns o;
  o.survival = false;
  o.outcome = std::move(outcome);
  return o;
}

absl::StatusOr<ModelRows> ExtractModelRows(const CsvTable& table, const OutcomeColumns& outcome,
                                           const std::vector<std::string>& covariates) {
  std::vector<std::string> outcome_cols =
      outcome.survival ? std::vector<std::string>{outcome.time, outcome.event}
                       : std::vector<std::string>{outcome.outcome};
  std::vector<std::string> all = outcome_cols;
  all.insert(all.end(), covariates.begin(), covariates.end());
  if (absl::Status s = table.RequireColumns(all); !s.ok()) return s;
  std::vector<int> idx;
  for (const auto& c : all) idx.push_back(table.ColumnIndex(c));
  const size_t p = covariates.size();
  const size_t n_rows = table.num_rows();
  ModelRows out;
  std::vector<std::vector<double>> xrows;
  auto bad = [&](size_t row, const std::string& col, absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(table.source(), ": line ",
                                                   table.line_of_row(row), ", column '", col,
                                                   "': ", what));
  };
  for (size_t r = 0; r < n_rows; ++r) {
    std::string missing;
    std::vector<double> vals(all.size(), 0.0);
    for (size_t k = 0; k < all.size(); ++k) {
      const std::string& cell = table.cell(r, static_cast<size_t>(idx[k]));
      if (IsMissingCell(cell)) {
        if (missing.empty()) missing = all[k];
        continue;
      }
      const bool is_event_by_value =
          outcome.survival && k == 1 && !outcome.event_values.empty();
      if (is_event_by_value) {
        std::string v(absl::StripAsciiWhitespace(cell));
        vals[k] = std::find(outcome.event_values.begin(), outcome.event_values.end(), v) !=
                          outcome.event_values.end()
                      ? 1.0
                      : 0.0;
        continue;
      }
      if (!ParseNumber(cell, &vals[k])) {
        return bad(r, all[k], absl::StrCat("'", cell, "' is not a number"));
      }
    }
    if (!missing.empty()) {
      ++out.n_excluded;
      ++out.excluded_by_reason[absl::StrCat("missing ", missing)];
      continue;
    }
    if (outcome.survival) {
      if (vals[0] < 0) return bad(r, all[0], "negative follow-up time");
      if (vals[1] != 0.0 && vals[1] != 1.0) return bad(r, all[1], "event must be 0 or 1");
      out.time.push_back(vals[0]);
      out.status.push_back(static_cast<int>(vals[1]));
    } else {
      if (vals[0] != 0.0 && vals[0] != 1.0) return bad(r, all[0], "outcome must be 0 or 1");
      out.y.push_back(vals[0]);
    }
    out.row_index.push_back(r);
    xrows.emplace_back(vals.begin() + static_cast<long>(outcome_cols.size()), vals.end());
  }
  out.x.resize(static_cast<Eigen::Index>(xrows.size()), static_cast<Eigen::Index>(p));
  for (size_t i = 0; i < xrows.size(); ++i) {
    for (size_t j = 0; j < p; ++j) {
      out.x(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = xrows[i][j];
    }
  }
  return out;
}

CrossProducts CrossProducts::Zero(int p) {
  CrossProducts c;
  c.sum = Eigen::VectorXd::Zero(p);
  c.sum_outer = Eigen::MatrixXd::Zero(p, p);
  return c;
}

void CrossProducts::Add(const CrossProducts& other) {
  n += other.n;
  sum += other.sum;
  sum_outer += other.sum_outer;
}

CrossProducts ComputeCrossProducts(const Eigen::MatrixXd& x) {
  CrossProducts c = CrossProducts::Zero(static_cast<int>(x.cols()));
  c.n = x.rows();
  c.sum = x.colwise().sum().transpose();
  c.sum_outer = x.transpose() * x;
  return c;
}

absl::StatusOr<Scaling> ScalingFromCrossProducts(const CrossProducts& cp,
                                                 const std::vector<std::string>& names) {
  if (cp.n < 2) return absl::FailedPreconditionError("standardisation needs at least 2 rows");
  Scaling s;
  const double n = static_cast<double>(cp.n);
  s.center = cp.sum / n;
  s.scale.resize(cp.sum.size());
  for (Eigen::Index j = 0; j < cp.sum.size(); ++j) {
    const double var = (cp.sum_outer(j, j) - n * s.center[j] * s.center[j]) / (n - 1);
    if (!(var > 0)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "covariate ", static_cast<size_t>(j) < names.size() ? names[j] : "?",
          " has zero pooled variance"));
    }
    s.scale[j] = std::sqrt(var);
  }
  return s;
}

Eigen::MatrixXd CorrelationFromCrossProducts(const CrossProducts& cp) {
  const double n = static_cast<double>(cp.n);
  Eigen::VectorXd mean = cp.sum / n;
  Eigen::MatrixXd cov = (cp.sum_outer - n * mean * mean.transpose()) / (n - 1);
  Eigen::VectorXd inv_sd = cov.diagonal().cwiseSqrt().cwiseInverse();
  return inv_sd.asDiagonal() * cov * inv_sd.asDiagonal();
}

Eigen::MatrixXd ApplyScaling(const Eigen::MatrixXd& x, const Scaling& s) {
  return (x.rowwise() - s.center.transpose()).array().rowwise() / s.scale.transpose().array();
}

}  // namespace fedrad::models
