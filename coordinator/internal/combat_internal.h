// Private to the coordinator's ComBat step: the report's feature
// distributions (task kind combat.distributions), measured around the fit
// round. coordinator/analysis_combat.cc runs the ComBat rounds and calls
// these; coordinator/analysis_combat_distributions.cc implements them. Not an
// API: no other module includes it.
//
//   ShownDistributions shown;
//   if (no output suffix) FEDRAD_RETURN_IF_ERROR(MeasureBefore(ctx, adjusted, moments,
//                                                              pooled, &shown));
//   ... combat.fit ...
//   FEDRAD_RETURN_IF_ERROR(MeasureAfter(ctx, model, std::move(shown), out));
//
// Not thread safe beyond StudyContext's own guarantees: one study's step
// runs on one thread.
#ifndef FEDRAD_COORDINATOR_INTERNAL_COMBAT_INTERNAL_H_
#define FEDRAD_COORDINATOR_INTERNAL_COMBAT_INTERNAL_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "coordinator/study_context.h"
#include "harmonization/combat.h"
#include "harmonization/model.h"
#include "proto/results.pb.h"

namespace fedrad::coordinator::internal {

// The report draws at most this many features (harmonization.report_features
// may list no more).
inline constexpr size_t kMaxDistributionFeatures = 12;

// The report's feature distributions as they are measured.
struct ShownDistributions {
  std::vector<int> features;  // indices into the adjusted features
  google::protobuf::Map<std::string, v1::Results::FeatureDistributions> distributions;
};

// Before the fit round, for a study without output_suffix (combat.fit then
// replaces the raw values): chooses the features whose unshrunk site means
// (`moments`, in pooled SD units from `pooled`) differ most, or the spec's
// report_features, and measures their "before" distributions at every
// site. On error (a site's malformed answer, a report feature that is not
// in `adjusted`) returns it and leaves *shown partly filled.
absl::Status MeasureBefore(StudyContext& ctx, const std::vector<std::string>& adjusted,
                           const std::vector<harmonization::LocalMoments>& moments,
                           const harmonization::PooledEstimates& pooled, ShownDistributions* shown);

// After the fit round: the "after" distributions (and, with output_suffix,
// the "before" ones too, measured now on the raw columns that are still
// there, for the features whose gamma* differ most) of the features
// `shown` chose, written with the method in words to out's distributions
// and distributions_method. Call only when some feature was adjusted.
absl::Status MeasureAfter(StudyContext& ctx, const harmonization::ComBatModel& model,
                          ShownDistributions shown, v1::Results::Harmonization& out);

}  // namespace fedrad::coordinator::internal

#endif  // FEDRAD_COORDINATOR_INTERNAL_COMBAT_INTERNAL_H_
