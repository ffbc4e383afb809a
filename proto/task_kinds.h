// One definition per task kind (issue 16, "Task payloads"): its name, the
// parameters a site reads, the outputs it may release and, for each output,
// the disclosure rule it falls under and whether it is summed over sites.
// The site's encoder and registry (site_node/tasks_*.cc), the privacy guard's
// releasable names (site_node/task_registry.h), secure aggregation's masked
// arrays (site_node/secure_agg.cc), the coordinator's decoders
// (coordinator/analysis_*.cc) and the round verifier and replay (rounds/) all
// read these constants: every name below is spelled here and nowhere else
// (tests/task_kinds_test.cc checks the tree).
//
// The wire format stays fedrad::v1::Payload (named arrays, strings and lists,
// proto/values.proto), so that the guard, secure masking (named arrays) and
// the audit (SHA-256 of the params' bytes) stay as simple as they were; the
// fields here give each name one type, and the typed accessors below are the
// only way the code above reads or writes them. Lists are repeated strings
// (Payload.lists): any name round-trips, commas and newlines included.
//
//   namespace cm = fedrad::kinds::combat_moments;
//   fedrad::kinds::Put(&out.payload, cm::kN, 120.0);
//   fedrad::kinds::Put(&out.payload, cm::kSumFeatures, sums);
//   FEDRAD_ASSIGN_OR_RETURN(double n, fedrad::kinds::Get(result.payload(), cm::kN));
//
// Thread safety: constants and pure functions; the payload functions are
// thread compatible.
#ifndef FEDRAD_PROTO_TASK_KINDS_H_
#define FEDRAD_PROTO_TASK_KINDS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/values.pb.h"

namespace fedrad::kinds {

enum class FieldType { kScalar, kVector, kMatrix, kText, kList, kCaseNotes };

// The guard rule an output falls under (docs/privacy.md names each rule).
// Every released output also needs the kind's n_contributing >= k (rule
// min-cell-count) and a declared name of the declared type.
enum class Disclosure {
  kParam,           // a parameter the site reads; never released
  kInput,           // what the site computed at, in its signed contribution (verified-step)
  kCount,           // a count of the patients the result rests on (min-cell-count)
  kWithheldBelowK,  // a count or moment withheld (NaN, "<k") on 1..k-1 patients (min-cell-count)
  kAggregate,       // a sum or moment over >= k patients, in the ledger (no-differencing)
  kSiteEstimate,    // an estimate of the site's own model over >= k patients (local-fit)
  kSiteGrid,        // counts on a lattice the site fixes, each step >= k (site-grid)
  kSpecNames,       // names from the approved spec or the site's config (column-roles)
  kProblems,        // fixed-vocabulary problem texts, no cell value (redaction)
  kSitePolicy,      // the site's own settings (its k), no patient data
};

// How a released array travels in a round that others build on.
enum class Sum {
  kPerSite,         // per site, in the clear
  kRound,           // added over sites in the verifiable round (Contribution.summed)
  kMasked,          // per site in the clear round; masked and summed under secure_aggregation
  kRoundAndMasked,  // both
};

// The rule's name as docs/privacy.md spells it.
const char* RuleName(Disclosure rule);

struct Field {
  const char* name;
  FieldType type;
  Disclosure rule;
  Sum sum;
  // A family of fields "name.<column>", one per column (e.g. grid.age).
  bool per_column;
};

template <FieldType T>
struct TypedField : Field {
  constexpr TypedField(const char* n, Disclosure r, Sum s = Sum::kPerSite, bool family = false)
      : Field{n, T, r, s, family} {}
};
using Scalar = TypedField<FieldType::kScalar>;
using Vector = TypedField<FieldType::kVector>;
using Matrix = TypedField<FieldType::kMatrix>;
using Text = TypedField<FieldType::kText>;
using List = TypedField<FieldType::kList>;
// Cases with a reason (Payload.case_notes).
using CaseNotes = TypedField<FieldType::kCaseNotes>;

// A named array of doubles (Payload.arrays): a scalar, vector or matrix.
constexpr bool IsArray(const Field& f) {
  return f.type == FieldType::kScalar || f.type == FieldType::kVector ||
         f.type == FieldType::kMatrix;
}

constexpr bool Masked(const Field& f) {
  return f.sum == Sum::kMasked || f.sum == Sum::kRoundAndMasked;
}
constexpr bool RoundSummed(const Field& f) {
  return f.sum == Sum::kRound || f.sum == Sum::kRoundAndMasked;
}

// One task kind.
struct Kind {
  const char* name;
  const char* description;
  std::vector<const Field*> params;
  std::vector<const Field*> outputs;
  // What the site computed at, in its signed contribution (issue 12).
  std::vector<const Field*> inputs;
  bool debug_only = false;
};

// Every kind defined here, in a fixed order.
const std::vector<Kind>& AllKinds();
// The kind called `name`, or nullptr.
const Kind* FindKind(std::string_view name);
// Names the kind may release: outputs, "name.*" for a per-column family.
std::vector<std::string> ReleasableNames(const Kind& kind);
// The kind's outputs masked under secure aggregation, in definition order.
std::vector<std::string> MaskedNames(const Kind& kind);
// The kind's outputs added over sites in its verifiable round, in order.
std::vector<std::string> RoundSummedNames(const Kind& kind);
// The released output `name` (a family member "grid.age" finds "grid"), or
// nullptr when the kind does not declare it.
const Field* FindOutput(const Kind& kind, std::string_view name);

// ---- Typed access to a Payload -----------------------------------------------
// Put replaces a field of the same name. Get of an array: NotFound naming the
// field when absent, DataLoss when its shape does not hold its values or when
// `size` (if given) differs. Get of text, a list or case notes: empty when
// absent.
void Put(v1::Payload* p, const Scalar& f, double value);
void Put(v1::Payload* p, const Vector& f, const std::vector<double>& values);
void Put(v1::Payload* p, const Matrix& f, int64_t rows, int64_t cols,
         const std::vector<double>& row_major);
void Put(v1::Payload* p, const Text& f, const std::string& value);
void Put(v1::Payload* p, const List& f, const std::vector<std::string>& values);
void Put(v1::Payload* p, const CaseNotes& f, const std::vector<v1::CaseNote>& notes);
// A per-column family member "name.<column>" (a vector, or one value).
void Put(v1::Payload* p, const Vector& f, const std::string& column,
         const std::vector<double>& values);
void Put(v1::Payload* p, const Vector& f, const std::string& column, double value);
// The name of a per-column family member.
std::string Member(const Vector& f, const std::string& column);

struct MatrixValues {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<double> row_major;
};

bool Has(const v1::Payload& p, const Field& f);
absl::StatusOr<double> Get(const v1::Payload& p, const Scalar& f);
absl::StatusOr<std::vector<double>> Get(const v1::Payload& p, const Vector& f);
absl::StatusOr<std::vector<double>> Get(const v1::Payload& p, const Vector& f, size_t size);
absl::StatusOr<std::vector<double>> Get(const v1::Payload& p, const Vector& f,
                                        const std::string& column);
// A one-value family member.
absl::StatusOr<double> GetOne(const v1::Payload& p, const Vector& f, const std::string& column);
absl::StatusOr<MatrixValues> Get(const v1::Payload& p, const Matrix& f);
absl::StatusOr<MatrixValues> Get(const v1::Payload& p, const Matrix& f, int64_t rows,
                                 int64_t cols);
std::string Get(const v1::Payload& p, const Text& f);
std::vector<std::string> Get(const v1::Payload& p, const List& f);
std::vector<v1::CaseNote> Get(const v1::Payload& p, const CaseNotes& f);
// The total size in bytes of a list's strings (for a site's size caps).
size_t ListBytes(const v1::Payload& p, const List& f);

// ---- The definitions ---------------------------------------------------------
// Parameters shared by several kinds are defined once, in the family's
// namespace; a kind's own outputs in the kind's namespace.

// Debug kinds (test only; run only with enable_debug_tasks).
namespace debug_sleep {
inline constexpr char kName[] = "debug.sleep";
inline constexpr Scalar kSeconds{"seconds", Disclosure::kParam};
inline constexpr Scalar kN{"n", Disclosure::kCount};
}  // namespace debug_sleep
namespace debug_vector {
inline constexpr char kName[] = "debug.vector";
inline constexpr Scalar kLength{"length", Disclosure::kParam};
// Sleep first (a window to kill a site before it answers).
inline constexpr Scalar kSeconds{"seconds", Disclosure::kParam};
inline constexpr Vector kVector{"vector", Disclosure::kAggregate, Sum::kRoundAndMasked};
// Optional: a verifiable round id (the plain answer is then signed).
inline constexpr Text kRound{"round", Disclosure::kParam};
}  // namespace debug_vector
namespace debug_crash {
inline constexpr char kName[] = "debug.crash";
}  // namespace debug_crash

// Study bookkeeping (site_node/study_checkpoint.cc, coordinator/study_runner.cc).
namespace study_task {
// The completed step (study.restore: -1 for the data table as loaded).
inline constexpr Scalar kStep{"step", Disclosure::kParam};
inline constexpr Text kStepName{"step_name", Disclosure::kParam};
// The site's row count, the only release.
inline constexpr Scalar kN{"n", Disclosure::kCount};
}  // namespace study_task
namespace study_checkpoint {
inline constexpr char kName[] = "study.checkpoint";
}  // namespace study_checkpoint
namespace study_restore {
inline constexpr char kName[] = "study.restore";
}  // namespace study_restore

// Feature extraction (site_node/tasks_features.cc, coordinator/analysis_features.cc).
namespace features_extract {
inline constexpr char kName[] = "features.extract";
inline constexpr Scalar kNCases{"n_cases", Disclosure::kCount};
inline constexpr Scalar kNOk{"n_ok", Disclosure::kCount};
inline constexpr Scalar kNExcluded{"n_excluded", Disclosure::kCount};
inline constexpr Scalar kNFeatureColumns{"n_feature_columns", Disclosure::kSpecNames};
// The site's pseudonymous case ids with a reason (docs/privacy.md: the one
// documented exception); present only when the site excluded a case.
inline constexpr CaseNotes kExcludedCases{"excluded_cases", Disclosure::kProblems};
inline constexpr List kColumns{"columns", Disclosure::kSpecNames};
inline constexpr Text kSettingsSha256{"settings_sha256", Disclosure::kSpecNames};
}  // namespace features_extract

// Cohort summary (site_node/tasks_cohort.cc, coordinator/analysis_cohort.cc).
namespace cohort_moments {
inline constexpr char kName[] = "cohort.moments";
// The summarised columns, in the order of the per-column vectors.
inline constexpr List kColumns{"columns", Disclosure::kSpecNames};
inline constexpr Scalar kRows{"rows", Disclosure::kCount};
inline constexpr Scalar kMinCellCount{"min_cell_count", Disclosure::kSitePolicy};
inline constexpr Vector kN{"n", Disclosure::kWithheldBelowK};
// Released per column even below k (docs/privacy.md, "What remains").
inline constexpr Vector kNMissing{"n_missing", Disclosure::kCount};
inline constexpr Vector kMean{"mean", Disclosure::kWithheldBelowK};
inline constexpr Vector kM2{"m2", Disclosure::kWithheldBelowK};
inline constexpr Vector kBinary{"binary", Disclosure::kWithheldBelowK};
inline constexpr Vector kInteger{"integer", Disclosure::kWithheldBelowK};
inline constexpr Vector kCountOne{"count_one", Disclosure::kWithheldBelowK};
inline constexpr Vector kSuppressed{"suppressed", Disclosure::kWithheldBelowK};
inline constexpr Vector kTimeEventN{"time_event_n", Disclosure::kWithheldBelowK};
inline constexpr Vector kTimeEventEvents{"time_event_events", Disclosure::kWithheldBelowK};
inline constexpr Vector kTimeEventSuppressed{"time_event_suppressed", Disclosure::kWithheldBelowK};
}  // namespace cohort_moments
namespace cohort_counts {
inline constexpr char kName[] = "cohort.counts";
inline constexpr Vector kGrid{"grid", Disclosure::kSiteGrid, Sum::kPerSite, true};
inline constexpr Vector kCounts{"counts", Disclosure::kSiteGrid, Sum::kPerSite, true};
inline constexpr Vector kN{"n", Disclosure::kCount, Sum::kPerSite, true};
}  // namespace cohort_counts

// Federated ComBat (site_node/tasks_combat.cc, coordinator/analysis_combat.cc,
// rounds/combat_inputs.cc).
namespace combat {
// The plan's adjusted features (a subset of what the spec selects at the
// site); also what combat.moments and combat.residuals signed they used.
inline constexpr List kFeatures{"features", Disclosure::kParam};
}  // namespace combat
namespace combat_check {
inline constexpr char kName[] = "combat.check";
inline constexpr Scalar kN{"n", Disclosure::kCount};
inline constexpr Vector kConstant{"constant", Disclosure::kAggregate};
inline constexpr List kFeatures{"features", Disclosure::kSpecNames};
inline constexpr List kProblems{"problems", Disclosure::kProblems};
}  // namespace combat_check
namespace combat_moments {
inline constexpr char kName[] = "combat.moments";
inline constexpr Scalar kN{"n", Disclosure::kCount};
inline constexpr Vector kSumCovariates{"sum_covariates", Disclosure::kAggregate};
inline constexpr Matrix kCovariateCross{"covariate_cross", Disclosure::kAggregate, Sum::kMasked};
inline constexpr Vector kSumFeatures{"sum_features", Disclosure::kAggregate};
inline constexpr Matrix kCovariateFeatureCross{"covariate_feature_cross", Disclosure::kAggregate,
                                               Sum::kMasked};
}  // namespace combat_moments
namespace combat_residuals {
inline constexpr char kName[] = "combat.residuals";
inline constexpr Vector kIntercept{"intercept", Disclosure::kParam};
inline constexpr Matrix kBeta{"beta", Disclosure::kParam};
inline constexpr Vector kRss{"rss", Disclosure::kAggregate, Sum::kMasked};
}  // namespace combat_residuals
namespace combat_fit {
inline constexpr char kName[] = "combat.fit";
inline constexpr Vector kGrandMean{"grand_mean", Disclosure::kParam};
inline constexpr Vector kVarPooled{"var_pooled", Disclosure::kParam};
inline constexpr Matrix kBeta{"beta", Disclosure::kParam};
inline constexpr Scalar kN{"n", Disclosure::kCount};
inline constexpr Vector kGammaStar{"gamma_star", Disclosure::kSiteEstimate};
inline constexpr Vector kDeltaStar{"delta_star", Disclosure::kSiteEstimate};
}  // namespace combat_fit
namespace combat_distributions {
inline constexpr char kName[] = "combat.distributions";
inline constexpr List kColumns{"columns", Disclosure::kParam};
inline constexpr Text kPhase{"phase", Disclosure::kParam};
inline constexpr Vector kN{"n", Disclosure::kWithheldBelowK};
inline constexpr Vector kMean{"mean", Disclosure::kWithheldBelowK};
inline constexpr Vector kM2{"m2", Disclosure::kWithheldBelowK};
inline constexpr Vector kSuppressed{"suppressed", Disclosure::kCount};
inline constexpr Vector kGrid{"grid", Disclosure::kSiteGrid, Sum::kPerSite, true};
inline constexpr Vector kCounts{"counts", Disclosure::kSiteGrid, Sum::kPerSite, true};
}  // namespace combat_distributions

// Models (site_node/tasks_models.cc, model_rows.cc, verify_rounds.cc;
// coordinator/analysis_models.cc, round_messages.cc; rounds/fit_replay.cc,
// replay.cc).
namespace model_task {
// A Model name of the approved study.
inline constexpr Text kModel{"model", Disclosure::kParam};
// The covariates of the round (a subset of those the site resolves).
inline constexpr List kCovariates{"covariates", Disclosure::kParam};
inline constexpr Vector kBeta{"beta", Disclosure::kParam};
inline constexpr Vector kCenter{"center", Disclosure::kParam};
inline constexpr Vector kScale{"scale", Disclosure::kParam};
// "idle": the site answers only its eligible row count.
inline constexpr Text kRole{"role", Disclosure::kParam};
inline constexpr char kIdle[] = "idle";
// The fit ("dev" or "loso-<site>") and its development sites.
inline constexpr Text kFit{"fit", Disclosure::kParam};
inline constexpr List kFitSites{"fit_sites", Disclosure::kParam};
// What an idle site releases.
inline constexpr Scalar kN{"n", Disclosure::kCount};
}  // namespace model_task
namespace models_prepare {
inline constexpr char kName[] = "models.prepare";
inline constexpr Scalar kN{"n", Disclosure::kCount, Sum::kRound};
inline constexpr Scalar kEvents{"events", Disclosure::kWithheldBelowK, Sum::kRound};
inline constexpr Scalar kNExcluded{"n_excluded", Disclosure::kWithheldBelowK};
inline constexpr Vector kSumX{"sum_x", Disclosure::kAggregate, Sum::kRound};
inline constexpr Matrix kSumXX{"sum_xx", Disclosure::kAggregate, Sum::kRound};
inline constexpr List kCovariates{"covariates", Disclosure::kSpecNames};
// "reason=count" or "reason=<k".
inline constexpr List kExcluded{"excluded", Disclosure::kWithheldBelowK};
}  // namespace models_prepare
namespace models_derivatives {
inline constexpr char kName[] = "models.derivatives";
inline constexpr Scalar kN{"n", Disclosure::kCount, Sum::kRound};
inline constexpr Scalar kEvents{"events", Disclosure::kCount, Sum::kRound};
inline constexpr Scalar kLoglik{"loglik", Disclosure::kAggregate, Sum::kRoundAndMasked};
inline constexpr Vector kGradient{"gradient", Disclosure::kAggregate, Sum::kRoundAndMasked};
inline constexpr Matrix kInformation{"information", Disclosure::kAggregate,
                                     Sum::kRoundAndMasked};
}  // namespace models_derivatives
namespace models_fit {
inline constexpr char kName[] = "models.fit";
inline constexpr Scalar kN{"n", Disclosure::kCount};
inline constexpr Scalar kEvents{"events", Disclosure::kCount};
inline constexpr Scalar kLoglik{"loglik", Disclosure::kSiteEstimate};
inline constexpr Scalar kLoglikNull{"loglik_null", Disclosure::kSiteEstimate};
inline constexpr Scalar kIterations{"iterations", Disclosure::kSiteEstimate};
inline constexpr Scalar kHalvings{"halvings", Disclosure::kSiteEstimate};
inline constexpr Vector kBeta{"beta", Disclosure::kSiteEstimate};
inline constexpr Matrix kCovariance{"covariance", Disclosure::kSiteEstimate};
inline constexpr Vector kScoreChi2{"score_chi2", Disclosure::kSiteEstimate};
inline constexpr Vector kScorePValue{"score_p_value", Disclosure::kSiteEstimate};
inline constexpr Vector kCenter{"center", Disclosure::kSiteEstimate};
inline constexpr Vector kScale{"scale", Disclosure::kSiteEstimate};
inline constexpr Scalar kLambda{"lambda", Disclosure::kSiteEstimate};
inline constexpr List kCovariates{"covariates", Disclosure::kSpecNames};
inline constexpr List kCandidates{"candidates", Disclosure::kSpecNames};
}  // namespace models_fit
namespace models_baseline {
inline constexpr char kName[] = "models.baseline";
inline constexpr Scalar kN{"n", Disclosure::kCount};
inline constexpr Vector kGrid{"grid", Disclosure::kSiteGrid};
inline constexpr Vector kGridEvents{"grid_events", Disclosure::kSiteGrid};
inline constexpr Vector kGridRiskSum{"grid_risk_sum", Disclosure::kSiteGrid};
}  // namespace models_baseline
namespace models_lp_summary {
inline constexpr char kName[] = "models.lp_summary";
inline constexpr Scalar kN{"n", Disclosure::kCount};
inline constexpr Vector kGrid{"grid", Disclosure::kSiteGrid};
inline constexpr Vector kCounts{"counts", Disclosure::kSiteGrid};
}  // namespace models_lp_summary
namespace models_validate {
inline constexpr char kName[] = "models.validate";
// The pooled baseline hazard (grid, H0) and the risk-group cut-points.
inline constexpr Vector kGrid{"grid", Disclosure::kParam};
inline constexpr Vector kCumhaz{"cumhaz", Disclosure::kParam};
inline constexpr Vector kKmCuts{"km_cuts", Disclosure::kParam};
inline constexpr Scalar kN{"n", Disclosure::kCount};
inline constexpr Scalar kEvents{"events", Disclosure::kWithheldBelowK};
inline constexpr Scalar kNExcluded{"n_excluded", Disclosure::kWithheldBelowK};
inline constexpr Scalar kBootstrapReplicates{"bootstrap_replicates", Disclosure::kCount};
// "metric.<name>": the site's validation metrics (models/metrics.h).
inline constexpr Vector kMetric{"metric", Disclosure::kAggregate, Sum::kPerSite, true};
// "curve.<curve>.<part>": calibration bins, risk-group KM curves and ROC
// vertices (rule curve-steps; the parts are named in
// site_node/tasks_validation.cc and read in coordinator/analysis_validation.cc).
inline constexpr Vector kCurve{"curve", Disclosure::kSiteGrid, Sum::kPerSite, true};
// The members of the curve family: "curve.<curve><part>", the risk groups'
// "curve.km.<group>.<part>" (Put(p, kCurve, absl::StrCat(curve::kRoc,
// curve::kFpr), ...)).
namespace curve {
inline constexpr char kCalibration[] = "calibration.";
inline constexpr char kRoc[] = "roc.";
inline constexpr char kKm[] = "km.";
inline constexpr const char* kRiskGroups[] = {"low", "intermediate", "high"};
inline constexpr char kSuppressed[] = "suppressed";
inline constexpr char kN[] = "n";
inline constexpr char kEvents[] = "events";
inline constexpr char kPredicted[] = "predicted";
inline constexpr char kObserved[] = "observed";
inline constexpr char kCiLow[] = "ci_low";
inline constexpr char kCiHigh[] = "ci_high";
inline constexpr char kTime[] = "time";
inline constexpr char kSurvival[] = "survival";
inline constexpr char kNAtRisk[] = "n_at_risk";
inline constexpr char kNPos[] = "n_pos";
inline constexpr char kNNeg[] = "n_neg";
inline constexpr char kFpr[] = "fpr";
inline constexpr char kTpr[] = "tpr";
inline constexpr char kThreshold[] = "threshold";
}  // namespace curve
}  // namespace models_validate

// Secure aggregation (docs/secure-aggregation.md; site_node/secure_agg.h,
// coordinator/secure_round.h). The params a secure round adds to the task of
// any summing kind, and the protocol's own three kinds, whose answer is a
// signed round message (TaskResult.signed): they release no outputs.
namespace secagg {
inline constexpr Text kSession{"secagg.session", Disclosure::kParam};
inline constexpr Text kRound{"secagg.round", Disclosure::kParam};
// Sorted site names.
inline constexpr List kParticipants{"secagg.participants", Disclosure::kParam};
inline constexpr List kSurvivors{"secagg.survivors", Disclosure::kParam};
inline constexpr List kUnresponsive{"secagg.unresponsive", Disclosure::kParam};
}  // namespace secagg
namespace secagg_advertise {
inline constexpr char kName[] = "secagg.advertise";
}  // namespace secagg_advertise
namespace secagg_shares {
inline constexpr char kName[] = "secagg.shares";
}  // namespace secagg_shares
namespace secagg_reveal {
inline constexpr char kName[] = "secagg.reveal";
}  // namespace secagg_reveal

}  // namespace fedrad::kinds

#endif  // FEDRAD_PROTO_TASK_KINDS_H_
