// From a site's table to model inputs: which columns are covariates, which
// rows enter (with every excluded row counted by reason), standardisation
// and pooled cross-products.
//
//   FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> covs,
//       ResolveCovariates(table.header(), {}, "", {"patient_id", "time", "status"}));
//   OutcomeColumns out = OutcomeColumns::Survival("time", "status");
//   FEDRAD_ASSIGN_OR_RETURN(ModelRows rows, ExtractModelRows(table, out, covs));
//
// Thread safety: pure functions.
#ifndef FEDRAD_MODELS_DATA_H_
#define FEDRAD_MODELS_DATA_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "absl/status/statusor.h"
#include "core/csv.h"

namespace fedrad::models {

// The covariates of a model: `listed` (in that order) followed by the header
// columns matching `regex` (RE2 syntax, fedrad::Pattern: whole name, linear
// time, at most Pattern::kMaxPatternBytes) that are not listed yet. Both
// empty: every header column not in `excluded`. InvalidArgument when a listed
// column is missing or excluded, the regex is invalid or too long, or the
// result is empty; the messages name only the listed covariates and the
// field, never the pattern's text.
absl::StatusOr<std::vector<std::string>> ResolveCovariates(
    const std::vector<std::string>& header, const std::vector<std::string>& listed,
    const std::string& regex, const std::vector<std::string>& excluded);

struct OutcomeColumns {
  bool survival = true;
  std::string time;                       // survival: follow-up time column
  std::string event;                      // survival: event column
  std::vector<std::string> event_values;  // cells counted as events; empty: numeric 0/1
  std::string outcome;                    // binary: 0/1 column

  static OutcomeColumns Survival(std::string time, std::string event,
                                 std::vector<std::string> event_values = {});
  static OutcomeColumns Binary(std::string outcome);
};

struct ModelRows {
  Eigen::MatrixXd x;          // n x p, covariates in the order given
  std::vector<double> time;   // survival
  std::vector<int> status;    // survival
  std::vector<double> y;      // binary
  std::vector<size_t> row_index;  // the table row of each model row (0-based)
  int64_t n_excluded = 0;
  std::map<std::string, int64_t> excluded_by_reason;  // e.g. "missing recur2y" -> 12
};

// Rows with a missing outcome or covariate (empty, NA, NaN) are excluded and
// counted by reason (the first missing column in the order outcome, time,
// event, covariates). InvalidArgument (naming file, line, column) for a cell
// that is present but not a number, a negative time, or an event/outcome
// that is not 0/1 (unless event_values is used).
absl::StatusOr<ModelRows> ExtractModelRows(const CsvTable& table, const OutcomeColumns& outcome,
                                           const std::vector<std::string>& covariates);

// Pooled first and second moments: n, sum x, sum x x^T. Sites send these;
// the coordinator adds them.
struct CrossProducts {
  int64_t n = 0;
  Eigen::VectorXd sum;
  Eigen::MatrixXd sum_outer;
  static CrossProducts Zero(int p);
  void Add(const CrossProducts& other);
};
CrossProducts ComputeCrossProducts(const Eigen::MatrixXd& x);

// Pooled mean and standard deviation (n - 1 denominator), from sums.
struct Scaling {
  Eigen::VectorXd center;
  Eigen::VectorXd scale;
};
// FailedPrecondition naming a covariate with zero pooled variance or n < 2.
absl::StatusOr<Scaling> ScalingFromCrossProducts(const CrossProducts& cp,
                                                 const std::vector<std::string>& names);
// Pooled correlation matrix from sums (a zero-variance column gives NaN).
Eigen::MatrixXd CorrelationFromCrossProducts(const CrossProducts& cp);
// (x - center) / scale, column-wise.
Eigen::MatrixXd ApplyScaling(const Eigen::MatrixXd& x, const Scaling& s);

}  // namespace fedrad::models

#endif  // FEDRAD_MODELS_DATA_H_
