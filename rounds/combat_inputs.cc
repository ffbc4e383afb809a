#include "rounds/combat_inputs.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "proto/payload.h"
#include "proto/task_kinds.h"

namespace fedrad::rounds {
namespace {

namespace cm = ::fedrad::kinds::combat_moments;
namespace cr = ::fedrad::kinds::combat_residuals;

absl::StatusOr<std::vector<double>> Sized(const v1::RoundMessage& m, const std::string& name,
                                          size_t n) {
  absl::StatusOr<std::vector<double>> v = InputArray(m, name);
  if (!v.ok() || v->size() != n) {
    return absl::DataLossError(absl::StrCat("round '", m.round_id(), "': the contribution of site '",
                                            m.site(), "' has no '", name, "' of ", n, " values"));
  }
  return v;
}

Eigen::MatrixXd RowMajor(const std::vector<double>& v, size_t rows, size_t cols) {
  Eigen::MatrixXd m(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) {
      m(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)) = v[r * cols + c];
    }
  }
  return m;
}

Eigen::VectorXd Vec(std::vector<double> v) {
  return Eigen::Map<Eigen::VectorXd>(v.data(), static_cast<Eigen::Index>(v.size()));
}

// A secure round's summed array for the first site's entry, zeros for the
// others.
absl::StatusOr<std::vector<double>> PooledOrZero(const Sums& pooled, const v1::RoundMessage& m,
                                                 const std::string& name, size_t n, bool first) {
  if (!first) return std::vector<double>(n, 0.0);
  auto it = pooled.find(name);
  if (it == pooled.end() || it->second.size() != n) {
    return absl::DataLossError(absl::StrCat("secure round '", m.round_id(), "': the sum has no '",
                                            name, "' of ", n, " values"));
  }
  return it->second;
}

}  // namespace

std::vector<std::string> CombatSites(const VerifiedTranscript& transcript) {
  std::vector<std::string> out;
  for (const MessagePtr& m : transcript.Round(CombatMomentsRound())) out.push_back(m->site());
  return out;
}

absl::StatusOr<harmonization::PooledRegression> RegressionFromTranscript(
    const std::vector<std::string>& sites, const std::vector<std::string>& covariates,
    size_t features, const std::string& reference_site, const VerifiedTranscript& transcript) {
  FEDRAD_ASSIGN_OR_RETURN(std::vector<MessagePtr> msgs,
                          transcript.RoundOf(CombatMomentsRound(), sites));
  const size_t q = covariates.size();
  // A secure round: the cross-products are known only summed; as the
  // coordinator does (coordinator/analysis_combat.cc), the sum stands in the
  // first site's entry and the others' are zero (PoolMoments adds them).
  std::optional<Sums> pooled;
  if (!msgs.empty() && IsMasked(*msgs.front())) {
    FEDRAD_ASSIGN_OR_RETURN(pooled, SumRound(msgs, transcript));
  }
  std::vector<harmonization::LocalMoments> moments;
  for (const MessagePtr& mp : msgs) {
    const v1::RoundMessage& m = *mp;
    harmonization::LocalMoments lm;
    FEDRAD_ASSIGN_OR_RETURN(std::vector<double> n, Sized(m, cm::kN.name, 1));
    lm.n = CountFromDouble(n[0]);  // past 2^53 or NaN: -1 (tests/fuzz)
    if (lm.n < 0) return absl::DataLossError("a combat.moments message's n is not a count");
    FEDRAD_ASSIGN_OR_RETURN(std::vector<double> sz, Sized(m, cm::kSumCovariates.name, q));
    FEDRAD_ASSIGN_OR_RETURN(std::vector<double> sy, Sized(m, cm::kSumFeatures.name, features));
    std::vector<double> zz, zy;
    if (pooled.has_value()) {
      const bool first = mp == msgs.front();
      FEDRAD_ASSIGN_OR_RETURN(zz, PooledOrZero(*pooled, m, cm::kCovariateCross.name, q * q, first));
      FEDRAD_ASSIGN_OR_RETURN(zy, PooledOrZero(*pooled, m, cm::kCovariateFeatureCross.name,
                                               q * features, first));
    } else {
      FEDRAD_ASSIGN_OR_RETURN(zz, Sized(m, cm::kCovariateCross.name, q * q));
      FEDRAD_ASSIGN_OR_RETURN(zy, Sized(m, cm::kCovariateFeatureCross.name, q * features));
    }
    lm.sum_covariates = Vec(sz);
    lm.covariate_cross = RowMajor(zz, q, q);
    lm.sum_features = Vec(sy);
    lm.covariate_feature_cross = RowMajor(zy, q, features);
    moments.push_back(std::move(lm));
  }
  return harmonization::PoolMoments(sites, moments, covariates, reference_site);
}

absl::StatusOr<harmonization::PooledEstimates> PooledFromTranscript(
    const harmonization::PooledRegression& regression, size_t features,
    const VerifiedTranscript& transcript) {
  FEDRAD_ASSIGN_OR_RETURN(std::vector<MessagePtr> msgs,
                          transcript.RoundOf(CombatResidualsRound(), regression.sites));
  std::optional<Sums> pooled;
  if (!msgs.empty() && IsMasked(*msgs.front())) {
    FEDRAD_ASSIGN_OR_RETURN(pooled, SumRound(msgs, transcript));
  }
  std::vector<Eigen::VectorXd> rss;
  for (const MessagePtr& m : msgs) {
    std::vector<double> v;
    if (pooled.has_value()) {
      FEDRAD_ASSIGN_OR_RETURN(v, PooledOrZero(*pooled, *m, cr::kRss.name, features, m == msgs.front()));
    } else {
      FEDRAD_ASSIGN_OR_RETURN(v, Sized(*m, cr::kRss.name, features));
    }
    rss.push_back(Vec(v));
  }
  return harmonization::FinishPooled(regression, rss);
}

}  // namespace fedrad::rounds
