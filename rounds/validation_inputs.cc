#include "rounds/validation_inputs.h"

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "proto/task_kinds.h"

namespace fedrad::rounds {
namespace {

namespace mb = ::fedrad::kinds::models_baseline;
namespace ml = ::fedrad::kinds::models_lp_summary;

absl::StatusOr<std::vector<double>> Plain(const v1::RoundMessage& m, const std::string& name) {
  absl::StatusOr<std::vector<double>> v = InputArray(m, name);
  if (!v.ok()) {
    return absl::DataLossError(absl::StrCat("round '", m.round_id(), "': the contribution of site '",
                                            m.site(), "' has no '", name, "'"));
  }
  return v;
}

}  // namespace

absl::StatusOr<models::PooledBaseline> BaselineFromTranscript(const std::string& model,
                                                              const std::string& fit,
                                                              const std::vector<std::string>& sites,
                                                              double t, double tau,
                                                              const VerifiedTranscript& transcript) {
  FEDRAD_ASSIGN_OR_RETURN(std::vector<MessagePtr> msgs,
                          transcript.RoundOf(BaselineRound(model, fit), sites));
  std::vector<models::SiteBaseline> parts;
  for (const MessagePtr& mp : msgs) {
    const v1::RoundMessage& m = *mp;
    models::SiteBaseline b;
    b.site = m.site();
    FEDRAD_ASSIGN_OR_RETURN(b.grid, Plain(m, mb::kGrid.name));
    FEDRAD_ASSIGN_OR_RETURN(b.events, Plain(m, mb::kGridEvents.name));
    FEDRAD_ASSIGN_OR_RETURN(b.risk, Plain(m, mb::kGridRiskSum.name));
    parts.push_back(std::move(b));
  }
  return models::PoolBaseline(parts, t, tau);
}

absl::StatusOr<std::vector<double>> CutsFromTranscript(const std::string& model,
                                                       const std::string& fit,
                                                       const std::vector<std::string>& sites,
                                                       const VerifiedTranscript& transcript) {
  FEDRAD_ASSIGN_OR_RETURN(std::vector<MessagePtr> msgs,
                          transcript.RoundOf(LpSummaryRound(model, fit), sites));
  std::vector<models::SiteCounts> parts;
  for (const MessagePtr& mp : msgs) {
    const v1::RoundMessage& m = *mp;
    models::SiteCounts c;
    FEDRAD_ASSIGN_OR_RETURN(std::vector<double> n, Plain(m, ml::kN.name));
    FEDRAD_ASSIGN_OR_RETURN(c.grid, Plain(m, ml::kGrid.name));
    FEDRAD_ASSIGN_OR_RETURN(c.counts, Plain(m, ml::kCounts.name));
    if (n.size() != 1 || c.counts.size() != c.grid.size()) {
      return absl::DataLossError(absl::StrCat("round '", m.round_id(), "': the counts of site '",
                                              m.site(), "' are malformed"));
    }
    c.n = n[0];
    parts.push_back(std::move(c));
  }
  return models::TertileCuts(parts);
}

}  // namespace fedrad::rounds
