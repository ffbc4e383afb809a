// The site's feature extraction: task kind "features.extract".
//
// The site reads the image and mask paths of every case from its working
// table (columns named by the study's `features` section; relative paths
// resolve against the folder of the site's data CSV), extracts the IBSI
// features of the requested regions with features::RunCohort (threads from
// SiteConfig.extraction_threads; a content-keyed cache in
// <site output>/.feature-cache, so a repeated task, e.g. after a restart, is
// fast), and joins them to the working table as new columns
// <prefix><feature column>, e.g. bkg_stat_variance. A case that fails
// (unreadable image, geometry mismatch, empty region...) is removed from the
// working table. Locally it writes features.csv and feature_errors.csv in
// the study's output folder.
//
// The hospital path: a row may instead name a DICOM series folder (the image
// column, or a column `series`), a contour object (column `rtstruct` or
// `seg`) and the ROIs (columns `lesion_roi`, `liver_roi`: the site's own
// patterns, features/cohort.h); such a row needs no mask cells. Contour
// files are redacted as <rtstruct> / <seg> in released reasons.
//
// Released (and nothing else): the counts n_cases, n_ok, n_excluded,
// n_feature_columns; the new column names; and each excluded case's id (the
// site's pseudonymous case id from its table) with the reason, in which the
// case's file paths are replaced by their column names (<image>, ...), so
// no local path leaves the site. n_contributing is n_ok.
//
//   task { kind: "features.extract" study { features { enabled: true ... } } }
//   -> arrays n_cases, n_ok, n_excluded, n_feature_columns;
//      strings "columns" (comma separated), "excluded_cases" (JSON array of
//      {"case", "reason"}), "settings_sha256"
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "core/csv.h"
#include "core/log.h"
#include "core/status.h"
#include "features/cohort.h"
#include "proto/payload.h"
#include "site_node/builtin_tasks.h"
#include "site_node/task_registry.h"
#include "site_node/tasks_features_spec.h"

namespace fedrad::site {
namespace {

namespace fs = std::filesystem;

constexpr char kStateKey[] = "features.extract.result";
constexpr size_t kMaxReasonChars = 400;
// The hospital path's columns of the site's data table (features/cohort.h).
constexpr char kSeriesColumn[] = "series";
constexpr char kRtstructColumn[] = "rtstruct";
constexpr char kSegColumn[] = "seg";
constexpr char kLesionRoiColumn[] = "lesion_roi";
constexpr char kLiverRoiColumn[] = "liver_roi";

struct Excluded {
  std::string case_id;
  std::string reason;
};

std::string Resolve(const std::string& data_dir, const std::string& path) {
  if (path.empty()) return path;
  fs::path p(path);
  if (p.is_absolute() || data_dir.empty()) return p.lexically_normal().string();
  return (fs::path(data_dir) / p).lexically_normal().string();
}

// The reason as released: the case's paths replaced by their column names,
// the first line only, bounded length.
std::string Redact(std::string reason, const features::CaseInput& in, const FeaturePlan& plan,
                   const std::string& data_dir) {
  std::vector<std::pair<std::string, std::string>> subs;
  if (!in.image.empty()) subs.emplace_back(in.image, absl::StrCat("<", plan.image_column, ">"));
  if (!in.lesion_mask.empty()) {
    subs.emplace_back(in.lesion_mask, absl::StrCat("<", plan.lesion_mask_column, ">"));
  }
  if (!in.liver_mask.empty()) {
    subs.emplace_back(in.liver_mask, absl::StrCat("<", plan.liver_mask_column, ">"));
  }
  if (!in.rtstruct.empty()) subs.emplace_back(in.rtstruct, absl::StrCat("<", kRtstructColumn, ">"));
  if (!in.seg.empty()) subs.emplace_back(in.seg, absl::StrCat("<", kSegColumn, ">"));
  // Longest first, so that a path is never half-replaced by a shorter one.
  std::sort(subs.begin(), subs.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  for (const auto& [from, to] : subs) absl::StrReplaceAll({{from, to}}, &reason);
  if (!data_dir.empty()) absl::StrReplaceAll({{data_dir, "<data folder>"}}, &reason);
  // The case id is released beside the reason: do not repeat it.
  const std::string own = absl::StrCat("case ", in.case_id, ": ");
  if (absl::StartsWith(reason, own)) reason = reason.substr(own.size());
  size_t nl = reason.find('\n');
  if (nl != std::string::npos) reason.resize(nl);
  if (reason.size() > kMaxReasonChars) reason = reason.substr(0, kMaxReasonChars) + "...";
  return reason;
}

std::string FormatFeature(double v) { return std::isfinite(v) ? FormatNumber(v) : "NA"; }

absl::StatusOr<TaskOutput> FromState(const std::string& text) {
  TaskOutput out;
  if (!out.payload.ParseFromString(text)) {
    return absl::InternalError("stored features.extract result does not parse");
  }
  FEDRAD_ASSIGN_OR_RETURN(double n_ok, kinds::Get(out.payload, kinds::features_extract::kNOk));
  out.n_contributing = static_cast<int64_t>(n_ok);
  return out;
}

// The cases of the working table; a row with an empty image, mask or ROI cell
// is excluded at once.
struct Cases {
  std::vector<features::CaseInput> cases;
  std::vector<size_t> case_rows;       // table row of each case
  std::map<size_t, Excluded> excluded;  // by row
};

absl::Status ReadCases(const CsvTable& table, const FeaturePlan& plan,
                       const std::string& id_column, const std::string& data_dir, Cases* out) {
  // The image column, or `series` (a DICOM series folder); the lesion mask
  // column may be absent when the table names DICOM contours (columns
  // rtstruct / seg, lesion_roi, liver_roi: features/cohort.h).
  const int series_col = table.ColumnIndex(kSeriesColumn);
  const int rtstruct_col = table.ColumnIndex(kRtstructColumn);
  const int seg_col = table.ColumnIndex(kSegColumn);
  const int lesion_roi_col = table.ColumnIndex(kLesionRoiColumn);
  const int liver_roi_col = table.ColumnIndex(kLiverRoiColumn);
  const bool has_contours = rtstruct_col >= 0 || seg_col >= 0;
  std::vector<std::string> required = {id_column};
  if (series_col < 0) required.push_back(plan.image_column);
  if (!has_contours) {
    required.push_back(plan.lesion_mask_column);
    if (plan.needs_liver_mask) required.push_back(plan.liver_mask_column);
  }
  FEDRAD_RETURN_IF_ERROR(table.RequireColumns(required));
  const int id_col = table.ColumnIndex(id_column);
  const int image_col = table.ColumnIndex(plan.image_column);  // -1 if absent
  const int lesion_col = table.ColumnIndex(plan.lesion_mask_column);  // -1 if absent
  const int liver_col = table.ColumnIndex(plan.liver_mask_column);  // -1 if absent
  auto cell = [&](size_t r, int c) { return c < 0 ? std::string() : table.cell(r, c); };

  std::vector<features::CaseInput>& cases = out->cases;
  std::vector<size_t>& case_rows = out->case_rows;
  std::map<size_t, Excluded>& excluded = out->excluded;
  for (size_t r = 0; r < table.num_rows(); ++r) {
    features::CaseInput in;
    in.case_id = table.cell(r, id_col);
    std::string image = cell(r, image_col);
    if (image.empty()) image = cell(r, series_col);
    in.image = Resolve(data_dir, image);
    in.rtstruct = Resolve(data_dir, cell(r, rtstruct_col));
    in.seg = Resolve(data_dir, cell(r, seg_col));
    std::string missing;
    if (in.dicom_contours()) {
      in.lesion_roi = cell(r, lesion_roi_col);
      in.liver_roi = plan.needs_liver_mask ? cell(r, liver_roi_col) : "";
      if (in.image.empty()) missing = series_col >= 0 ? kSeriesColumn : plan.image_column;
      else if (in.lesion_roi.empty()) missing = kLesionRoiColumn;
      else if (plan.needs_liver_mask && in.liver_roi.empty()) missing = kLiverRoiColumn;
    } else {
      in.lesion_mask = Resolve(data_dir, cell(r, lesion_col));
      if (plan.needs_liver_mask) in.liver_mask = Resolve(data_dir, cell(r, liver_col));
      if (in.image.empty()) missing = image_col >= 0 ? plan.image_column : kSeriesColumn;
      else if (in.lesion_mask.empty()) missing = plan.lesion_mask_column;
      else if (plan.needs_liver_mask && in.liver_mask.empty()) missing = plan.liver_mask_column;
    }
    if (!in.rtstruct.empty() && !in.seg.empty()) {
      excluded[r] = {in.case_id, absl::StrCat("both '", kRtstructColumn, "' and '", kSegColumn,
                                              "' given (data table line ", table.line_of_row(r),
                                              "); name one contour object")};
      continue;
    }
    if (!missing.empty()) {
      // The line of the site's data table, not its path (paths stay local).
      excluded[r] = {in.case_id, absl::StrCat("empty '", missing, "' cell (data table line ",
                                              table.line_of_row(r), ")")};
      continue;
    }
    cases.push_back(std::move(in));
    case_rows.push_back(r);
  }

  return absl::OkStatus();
}

// Runs the extraction of `cases` (features::RunCohort) on the site's
// threads, with the site's shared cache; logs progress by tenths and each
// excluded case. Cancelled when the site shuts down.
absl::StatusOr<std::vector<features::CaseResult>> RunExtraction(
    TaskContext& ctx, const FeaturePlan& plan, const std::vector<features::CaseInput>& cases) {
  features::CohortOptions run;
  run.threads = ctx.extraction_threads > 0
                    ? ctx.extraction_threads
                    : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  // The site's shared cache sits beside the study folders under a name no
  // study id can take (plain names never start with '.').
  run.cache_dir = (fs::path(ctx.output_dir).parent_path() / ".feature-cache").string();
  run.cancelled = ctx.cancelled;
  run.settings_fingerprint = plan.fingerprint;
  int last_logged = -1;
  run.progress = [&](const features::CaseResult& r, int done, int total) {
    int decile = total > 0 ? done * 10 / total : 10;
    if (!r.status.ok()) {
      FEDRAD_LOG(WARNING) << "features: case " << r.case_id << " excluded: " << r.status.message();
    }
    if (decile != last_logged || done == total) {
      last_logged = decile;
      FEDRAD_LOG(INFO) << "features: " << done << "/" << total << " cases extracted (last "
                       << r.case_id << (r.from_cache ? ", from cache" : "") << ")";
    }
  };
  FEDRAD_LOG(INFO) << "features: extracting " << cases.size() << " cases on " << run.threads
                   << " threads (cache " << run.cache_dir << ")";
  std::vector<features::CaseResult> results = features::RunCohort(cases, plan.options, run);
  if (ctx.cancelled()) return absl::CancelledError("the site is shutting down");
  return results;
}

// The feature columns, in first-seen order, and per kept table row its
// values (formatted, "NA" when not finite).
struct FeatureColumns {
  std::vector<std::string> columns;
  std::map<size_t, std::map<std::string, std::string>> values;  // by table row
};

// The extraction's `results` (one per read->cases) as columns; a failed
// case, or one whose region could not be formed, joins read->excluded with
// its reason redacted. FailedPrecondition if a column already exists in
// `table`.
absl::StatusOr<FeatureColumns> CollectFeatures(const CsvTable& table,
                                               const std::vector<features::CaseResult>& results,
                                               const FeaturePlan& plan,
                                               const std::string& data_dir, Cases* read) {
  FeatureColumns out;
  std::map<std::string, size_t> column_index;
  for (size_t i = 0; i < results.size(); ++i) {
    const features::CaseResult& res = results[i];
    const size_t row = read->case_rows[i];
    if (!res.status.ok()) {
      read->excluded[row] = {
          res.case_id, Redact(std::string(res.status.message()), read->cases[i], plan, data_dir)};
      continue;
    }
    std::map<std::string, const features::RegionFeatures*> by_roi;
    for (const auto& reg : res.regions) by_roi[reg.roi] = &reg;
    std::string missing_roi;
    for (const auto& [roi, prefix] : plan.regions) {
      if (by_roi.count(roi) == 0) missing_roi = roi;
    }
    if (!missing_roi.empty()) {
      read->excluded[row] = {res.case_id, absl::StrCat("region '", missing_roi,
                                                       "' could not be formed from the masks")};
      continue;
    }
    auto& row_values = out.values[row];
    for (const auto& [roi, prefix] : plan.regions) {
      for (const auto& f : by_roi[roi]->features) {
        std::string name = absl::StrCat(prefix, features::WideColumnName(f));
        if (column_index.emplace(name, out.columns.size()).second) out.columns.push_back(name);
        row_values[name] = FormatFeature(f.value);
      }
    }
  }
  for (const auto& c : out.columns) {
    if (table.HasColumn(c)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "features.extract: the data table already has a column '", c,
          "'; choose another prefix in the study's features.regions"));
    }
  }
  return out;
}

// Replaces the site's working table by its kept rows, old columns then the
// features, and writes the operator's local features.csv and
// feature_errors.csv (never released; a write failure is only logged).
absl::Status JoinFeatures(TaskContext& ctx, const FeatureColumns& features,
                          const std::map<size_t, Excluded>& excluded) {
  CsvTable& table = *ctx.table;
  std::vector<std::string> header = table.header();
  header.insert(header.end(), features.columns.begin(), features.columns.end());
  CsvTable joined(header, absl::StrCat(table.source(), " + features"));
  CsvTable local_errors({ctx.id_column, "reason"}, "feature_errors.csv");
  const std::map<std::string, std::string> none;
  for (size_t r = 0; r < table.num_rows(); ++r) {
    auto ex = excluded.find(r);
    if (ex != excluded.end()) {
      FEDRAD_RETURN_IF_ERROR(local_errors.AddRow({ex->second.case_id, ex->second.reason}));
      continue;
    }
    std::vector<std::string> row = table.rows()[r];
    auto found = features.values.find(r);
    const auto& v = found == features.values.end() ? none : found->second;
    for (const auto& c : features.columns) {
      auto it = v.find(c);
      row.push_back(it == v.end() ? "NA" : it->second);
    }
    FEDRAD_RETURN_IF_ERROR(joined.AddRow(std::move(row)));
  }
  table = std::move(joined);

  const fs::path out_dir(ctx.output_dir);
  if (absl::Status s = WriteCsv((out_dir / "features.csv").string(), table); !s.ok()) {
    FEDRAD_LOG(WARNING) << "cannot write features.csv: " << s.message();
  }
  if (absl::Status s = WriteCsv((out_dir / "feature_errors.csv").string(), local_errors); !s.ok()) {
    FEDRAD_LOG(WARNING) << "cannot write feature_errors.csv: " << s.message();
  }
  return absl::OkStatus();
}

absl::StatusOr<TaskOutput> Extract(TaskContext& ctx) {
  const v1::Study& study = ctx.task->study();
  auto plan_or = ResolveFeatureExtraction(study.features());
  if (!plan_or.ok()) return plan_or.status();
  const FeaturePlan& plan = *plan_or;

  // The same task again (the coordinator resumed, or repeated it after a
  // reconnect): the table already holds the features; answer as before.
  if (ctx.state != nullptr) {
    auto it = ctx.state->find(kStateKey);
    if (it != ctx.state->end()) {
      FEDRAD_LOG(INFO) << "features.extract: already done for this study; repeating the result";
      return FromState(it->second);
    }
  }

  Cases read;
  FEDRAD_RETURN_IF_ERROR(ReadCases(*ctx.table, plan, ctx.id_column, ctx.data_dir, &read));
  FEDRAD_ASSIGN_OR_RETURN(std::vector<features::CaseResult> results,
                          RunExtraction(ctx, plan, read.cases));
  FEDRAD_ASSIGN_OR_RETURN(FeatureColumns features,
                          CollectFeatures(*ctx.table, results, plan, ctx.data_dir, &read));
  const std::vector<std::string>& columns = features.columns;
  const std::map<size_t, Excluded>& excluded = read.excluded;

  const int64_t n_cases = static_cast<int64_t>(ctx.table->num_rows());
  const int64_t n_excluded = static_cast<int64_t>(excluded.size());
  const int64_t n_ok = n_cases - n_excluded;
  if (n_ok == 0) {
    std::vector<std::string> first;
    for (const auto& [row, e] : excluded) {
      if (first.size() < 3) first.push_back(absl::StrCat(e.case_id, ": ", e.reason));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "feature extraction failed for every one of the site's ", n_cases,
        " cases, so the site cannot take part (first: ", absl::StrJoin(first, "; "), ")"));
  }
  FEDRAD_RETURN_IF_ERROR(JoinFeatures(ctx, features, excluded));
  FEDRAD_LOG(INFO) << "features: " << n_ok << " of " << n_cases << " cases extracted, "
                   << n_excluded << " excluded, " << columns.size() << " feature columns added";

  TaskOutput out;
  out.n_contributing = n_ok;
  namespace fe = ::fedrad::kinds::features_extract;
  kinds::Put(&out.payload, fe::kNCases, static_cast<double>(n_cases));
  kinds::Put(&out.payload, fe::kNOk, static_cast<double>(n_ok));
  kinds::Put(&out.payload, fe::kNExcluded, static_cast<double>(n_excluded));
  kinds::Put(&out.payload, fe::kNFeatureColumns, static_cast<double>(columns.size()));
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [row, e] : excluded) list.push_back({{"case", e.case_id}, {"reason", e.reason}});
  kinds::Put(&out.payload, fe::kExcludedCases, list.dump());
  kinds::Put(&out.payload, fe::kColumns, columns);
  kinds::Put(&out.payload, fe::kSettingsSha256, plan.settings_sha256);
  if (ctx.state != nullptr) (*ctx.state)[kStateKey] = out.payload.SerializeAsString();
  return out;
}

}  // namespace

void RegisterFeatureTasks(TaskRegistry& registry) {
  registry.Register(DefinedKind(kinds::features_extract::kName, &Extract));
}

}  // namespace fedrad::site
