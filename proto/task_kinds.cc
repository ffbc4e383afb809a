#include "proto/task_kinds.h"

#include "absl/strings/str_cat.h"
#include "proto/payload.h"

namespace fedrad::kinds {

const char* RuleName(Disclosure rule) {
  switch (rule) {
    case Disclosure::kParam: return "parameter";
    case Disclosure::kInput: return "verified-step";
    case Disclosure::kCount: return "min-cell-count";
    case Disclosure::kWithheldBelowK: return "min-cell-count (withheld on 1..k-1)";
    case Disclosure::kAggregate: return "min-cell-count, no-differencing";
    case Disclosure::kSiteEstimate: return "local-fit";
    case Disclosure::kSiteGrid: return "site-grid";
    case Disclosure::kSpecNames: return "column-roles";
    case Disclosure::kProblems: return "redaction";
    case Disclosure::kSitePolicy: return "site-policy";
  }
  return "?";
}

namespace {

// The table, in three parts (each kind's namespace is in proto/task_kinds.h).
std::vector<Kind> StudyAndCohortKinds() {
  namespace dc = debug_crash;
  namespace ds = debug_sleep;
  namespace dv = debug_vector;
  namespace st = study_task;
  namespace fe = features_extract;
  namespace km = cohort_moments;
  namespace kc = cohort_counts;
  return {
      {ds::kName, "test only: sleep, then release the row count", {&ds::kSeconds}, {&ds::kN}, {},
       true},
      {dv::kName, "test only: a vector of doubles (benchmark)", {&dv::kLength, &dv::kSeconds, &dv::kRound},
       {&dv::kVector}, {}, true},
      {dc::kName, "test only: crash the site's worker (the crash-loop guard's test)", {}, {}, {},
       true},
      {study_checkpoint::kName,
       "save this study's working table and state on the site's disk after a completed step "
       "(releases only the row count)",
       {&st::kStep, &st::kStepName},
       {&st::kN},
       {}},
      {study_restore::kName,
       "set this study's working table and state to the checkpoint of the last completed step "
       "(the coordinator resumed the study; releases only the row count)",
       {&st::kStep, &st::kStepName},
       {&st::kN},
       {}},
      {fe::kName,
       "extracts IBSI features from the site's CT images into its working table; releases "
       "only counts, the feature column names and the excluded cases' ids with reasons",
       {},
       {&fe::kNCases, &fe::kNOk, &fe::kNExcluded, &fe::kNFeatureColumns, &fe::kExcludedCases,
        &fe::kColumns, &fe::kSettingsSha256},
       {}},
      {km::kName,
       "Per-column n, missing count, mean, sum of squared deviations and 0/1 counts "
       "(small cells suppressed, their size too); per time/event pair n and number of events. "
       "Columns from the approved spec's cohort_summary.",
       {},
       {&km::kColumns, &km::kRows, &km::kMinCellCount, &km::kN, &km::kNMissing, &km::kMean,
        &km::kM2, &km::kBinary, &km::kInteger, &km::kCountOne, &km::kSuppressed,
        &km::kTimeEventN, &km::kTimeEventEvents, &km::kTimeEventSuppressed},
       {}},
      {kc::kName,
       "Per column, the number of values at or below each point of a grid the site fixes "
       "(3-significant-digit lattice, every step >= k values; for quantiles; no value and no "
       "coordinator-chosen threshold).",
       {},
       {&kc::kGrid, &kc::kCounts, &kc::kN},
       {}},
  };
}

std::vector<Kind> CombatKinds() {
  namespace cc = combat_check;
  namespace cm = combat_moments;
  namespace cr = combat_residuals;
  namespace cf = combat_fit;
  namespace cd = combat_distributions;
  return {
      {cc::kName,
       "ComBat pre-check: column presence, n, numeric-ness, features constant at the site",
       {},
       {&cc::kN, &cc::kConstant, &cc::kFeatures, &cc::kProblems},
       {}},
      {cm::kName,
       "ComBat moments: n, sums and cross-products of covariates and features",
       {&combat::kFeatures},
       {&cm::kN, &cm::kSumCovariates, &cm::kCovariateCross, &cm::kSumFeatures,
        &cm::kCovariateFeatureCross},
       {&combat::kFeatures}},
      {cr::kName,
       "ComBat: per-feature sums of squared residuals from the pooled fit",
       {&combat::kFeatures, &cr::kIntercept, &cr::kBeta},
       {&cr::kRss},
       {&combat::kFeatures}},
      {cf::kName,
       "ComBat: the site's empirical Bayes effects (gamma*, delta* per feature); harmonises "
       "the table locally",
       {&combat::kFeatures, &cf::kGrandMean, &cf::kVarPooled, &cf::kBeta},
       {&cf::kN, &cf::kGammaStar, &cf::kDeltaStar},
       {}},
      {cd::kName,
       "feature distributions for the report: per column n, mean, sum of squared deviations "
       "(withheld, n too, when n < k) and counts on a grid the site fixes (every step >= k "
       "values; for quartiles; no value is released)",
       {&cd::kColumns, &cd::kPhase},
       {&cd::kN, &cd::kMean, &cd::kM2, &cd::kSuppressed, &cd::kGrid, &cd::kCounts},
       {}},
  };
}

std::vector<Kind> ModelAndSecAggKinds() {
  namespace mt = model_task;
  namespace mp = models_prepare;
  namespace md = models_derivatives;
  namespace mf = models_fit;
  namespace mb = models_baseline;
  namespace ml = models_lp_summary;
  namespace mv = models_validate;
  namespace sg = secagg;
  return {
      {mp::kName,
       "model inputs: covariate names, n, events, excluded rows by reason, sum x, sum x x^T",
       {&mt::kModel, &mt::kCovariates},
       {&mp::kN, &mp::kEvents, &mp::kNExcluded, &mp::kSumX, &mp::kSumXX, &mp::kCovariates,
        &mp::kExcluded},
       {&mt::kCovariates}},
      {md::kName,
       "log-likelihood, gradient and information of the site's rows at the given coefficients",
       {&mt::kModel, &mt::kCovariates, &mt::kBeta, &mt::kCenter, &mt::kScale, &mt::kRole,
        &mt::kFit, &mt::kFitSites},
       {&md::kN, &md::kEvents, &md::kLoglik, &md::kGradient, &md::kInformation},
       {&mt::kBeta, &mt::kCenter, &mt::kScale, &mt::kCovariates, &mt::kFit, &mt::kFitSites}},
      {mf::kName,
       "the whole fit of a model the approved spec develops on this site alone: coefficients, "
       "their covariance, the fit summary and the selection details",
       {&mt::kModel, &mt::kRole},
       {&mf::kN, &mf::kEvents, &mf::kLoglik, &mf::kLoglikNull, &mf::kIterations, &mf::kHalvings,
        &mf::kBeta, &mf::kCovariance, &mf::kScoreChi2, &mf::kScorePValue, &mf::kCenter,
        &mf::kScale, &mf::kLambda, &mf::kCovariates, &mf::kCandidates},
       {}},
      {mb::kName,
       "Cox: events and risk-set sums of exp(x beta) on a time grid the site fixes (each step "
       ">= k patients leaving the risk set), with the grid",
       {&mt::kModel, &mt::kCovariates, &mt::kBeta, &mt::kRole, &mt::kFit, &mt::kFitSites},
       {&mb::kN, &mb::kGrid, &mb::kGridEvents, &mb::kGridRiskSum},
       {}},
      {ml::kName,
       "how many patients have the frozen model's linear predictor at or below each point of a "
       "lattice the site fixes, released only where >= k were added (no value is released)",
       {&mt::kModel, &mt::kCovariates, &mt::kBeta, &mt::kRole, &mt::kFit, &mt::kFitSites},
       {&ml::kN, &ml::kGrid, &ml::kCounts},
       {}},
      {mv::kName,
       "validation metrics of a frozen model on the site's rows, with local bootstrap CIs; "
       "curve aggregates (calibration bins, Kaplan-Meier by risk group, ROC) on grids and "
       "thresholds the site fixes, each step over 0 or >= k patients",
       {&mt::kModel, &mt::kCovariates, &mt::kBeta, &mt::kRole, &mt::kFit, &mt::kFitSites,
        &mv::kGrid, &mv::kCumhaz, &mv::kKmCuts},
       {&mv::kN, &mv::kEvents, &mv::kNExcluded, &mv::kBootstrapReplicates, &mv::kMetric,
        &mv::kCurve},
       {&mt::kFit, &mt::kCovariates, &mt::kBeta}},
      {secagg_advertise::kName,
       "secure aggregation: this site's public keys for the study's session (a signed advert)",
       {&sg::kSession, &sg::kParticipants}, {}, {}},
      {secagg_shares::kName,
       "secure aggregation: Shamir shares of the site's self-mask seed, each encrypted to one "
       "participant (signed)",
       {&sg::kSession}, {}, {}},
      {secagg_reveal::kName,
       "secure aggregation: the seeds that unmask one round's sum over its survivors (signed)",
       {&sg::kSession, &sg::kRound, &sg::kSurvivors, &sg::kUnresponsive}, {}, {}},
  };
}

}  // namespace

const std::vector<Kind>& AllKinds() {
  static const auto* const kinds = [] {
    auto* all = new std::vector<Kind>;
    for (std::vector<Kind> part : {StudyAndCohortKinds(), CombatKinds(), ModelAndSecAggKinds()}) {
      all->insert(all->end(), part.begin(), part.end());
    }
    return all;
  }();
  return *kinds;
}

const Kind* FindKind(std::string_view name) {
  for (const Kind& k : AllKinds()) {
    if (name == k.name) return &k;
  }
  return nullptr;
}

std::vector<std::string> ReleasableNames(const Kind& kind) {
  std::vector<std::string> out;
  for (const Field* f : kind.outputs) {
    out.push_back(f->per_column ? absl::StrCat(f->name, ".*") : std::string(f->name));
  }
  return out;
}

std::vector<std::string> MaskedNames(const Kind& kind) {
  std::vector<std::string> out;
  for (const Field* f : kind.outputs) {
    if (Masked(*f)) out.push_back(f->name);
  }
  return out;
}

std::vector<std::string> RoundSummedNames(const Kind& kind) {
  std::vector<std::string> out;
  for (const Field* f : kind.outputs) {
    if (RoundSummed(*f)) out.push_back(f->name);
  }
  return out;
}

const Field* FindOutput(const Kind& kind, std::string_view name) {
  for (const Field* f : kind.outputs) {
    if (name == f->name) return f->per_column ? nullptr : f;
    const std::string_view prefix = f->name;
    if (f->per_column && name.size() > prefix.size() + 1 &&
        name.substr(0, prefix.size()) == prefix && name[prefix.size()] == '.') {
      return f;
    }
  }
  return nullptr;
}

// ---- Typed access ------------------------------------------------------------

void Put(v1::Payload* p, const Scalar& f, double value) { AddScalar(p, f.name, value); }

void Put(v1::Payload* p, const Vector& f, const std::vector<double>& values) {
  AddVector(p, f.name, values);
}

void Put(v1::Payload* p, const Matrix& f, int64_t rows, int64_t cols,
         const std::vector<double>& row_major) {
  AddMatrix(p, f.name, rows, cols, row_major);
}

void Put(v1::Payload* p, const Text& f, const std::string& value) {
  (*p->mutable_strings())[f.name] = value;
}

void Put(v1::Payload* p, const List& f, const std::vector<std::string>& values) {
  v1::StringList& list = (*p->mutable_lists())[f.name];
  list.Clear();
  list.mutable_values()->Assign(values.begin(), values.end());
}

void Put(v1::Payload* p, const CaseNotes& f, const std::vector<v1::CaseNote>& notes) {
  v1::CaseNoteList& list = (*p->mutable_case_notes())[f.name];
  list.Clear();
  list.mutable_notes()->Assign(notes.begin(), notes.end());
}

void Put(v1::Payload* p, const Vector& f, const std::string& column,
         const std::vector<double>& values) {
  AddVector(p, Member(f, column), values);
}

void Put(v1::Payload* p, const Vector& f, const std::string& column, double value) {
  AddScalar(p, Member(f, column), value);
}

std::string Member(const Vector& f, const std::string& column) {
  return absl::StrCat(f.name, ".", column);
}

bool Has(const v1::Payload& p, const Field& f) {
  switch (f.type) {
    case FieldType::kText: return p.strings().count(f.name) > 0;
    case FieldType::kList: return p.lists().count(f.name) > 0;
    case FieldType::kCaseNotes: return p.case_notes().count(f.name) > 0;
    default: break;
  }
  for (const v1::Array& a : p.arrays()) {
    if (a.name() == f.name) return true;
  }
  return false;
}

absl::StatusOr<double> Get(const v1::Payload& p, const Scalar& f) { return GetScalar(p, f.name); }

absl::StatusOr<std::vector<double>> Get(const v1::Payload& p, const Vector& f) {
  return GetVector(p, f.name);
}

absl::StatusOr<std::vector<double>> Get(const v1::Payload& p, const Vector& f, size_t size) {
  absl::StatusOr<std::vector<double>> v = GetVector(p, f.name);
  if (v.ok() && v->size() != size) {
    return absl::DataLossError(absl::StrCat("'", f.name, "' has ", v->size(), " values, expected ",
                                            size));
  }
  return v;
}

absl::StatusOr<std::vector<double>> Get(const v1::Payload& p, const Vector& f,
                                        const std::string& column) {
  return GetVector(p, Member(f, column));
}

absl::StatusOr<double> GetOne(const v1::Payload& p, const Vector& f, const std::string& column) {
  return GetScalar(p, Member(f, column));
}

absl::StatusOr<MatrixValues> Get(const v1::Payload& p, const Matrix& f) {
  MatrixValues m;
  absl::StatusOr<std::vector<double>> v = GetMatrix(p, f.name, &m.rows, &m.cols);
  if (!v.ok()) return v.status();
  m.row_major = std::move(*v);
  return m;
}

absl::StatusOr<MatrixValues> Get(const v1::Payload& p, const Matrix& f, int64_t rows,
                                 int64_t cols) {
  absl::StatusOr<MatrixValues> m = Get(p, f);
  if (m.ok() && (m->rows != rows || m->cols != cols)) {
    return absl::DataLossError(absl::StrCat("'", f.name, "' is ", m->rows, "x", m->cols,
                                            ", expected ", rows, "x", cols));
  }
  return m;
}

std::string Get(const v1::Payload& p, const Text& f) {
  auto it = p.strings().find(f.name);
  return it == p.strings().end() ? std::string() : it->second;
}

std::vector<std::string> Get(const v1::Payload& p, const List& f) {
  auto it = p.lists().find(f.name);
  if (it == p.lists().end()) return {};
  return std::vector<std::string>(it->second.values().begin(), it->second.values().end());
}

std::vector<v1::CaseNote> Get(const v1::Payload& p, const CaseNotes& f) {
  auto it = p.case_notes().find(f.name);
  if (it == p.case_notes().end()) return {};
  return std::vector<v1::CaseNote>(it->second.notes().begin(), it->second.notes().end());
}

size_t ListBytes(const v1::Payload& p, const List& f) {
  auto it = p.lists().find(f.name);
  if (it == p.lists().end()) return 0;
  size_t bytes = 0;
  for (const std::string& s : it->second.values()) bytes += s.size() + 1;
  return bytes;
}

}  // namespace fedrad::kinds
