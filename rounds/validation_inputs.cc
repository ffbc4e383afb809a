#include "rounds/validation_inputs.h"

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace fedrad::rounds {
namespace {

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
    FEDRAD_ASSIGN_OR_RETURN(b.grid, Plain(m, "grid"));
    FEDRAD_ASSIGN_OR_RETURN(b.events, Plain(m, "grid_events"));
    FEDRAD_ASSIGN_OR_RETURN(b.risk, Plain(m, "grid_risk_sum"));
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
    FEDRAD_ASSIGN_OR_RETURN(std::vector<double> n, Plain(m, "n"));
    FEDRAD_ASSIGN_OR_RETURN(c.grid, Plain(m, "grid"));
    FEDRAD_ASSIGN_OR_RETURN(c.counts, Plain(m, "counts"));
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
