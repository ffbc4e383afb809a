#include "synth/cohort.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/csv.h"
#include "core/log.h"
#include "core/status.h"
#include "features/dicom/dicom_write.h"
#include "synth/internal/nifti.h"
#include "synth/internal/outcomes.h"
#include "synth/internal/phantom.h"
#include "synth/internal/random.h"

namespace fedrad::synth {
namespace {

namespace fs = std::filesystem;
using synth_internal::Rng;

constexpr int kMatrix = 128;          // in-plane voxels
constexpr double kZExtentMm = 60;     // axial coverage
constexpr int kMaxCenters = 26;
constexpr int kMaxPatientsPerCenter = 5000;
constexpr char kMarker[] = ".fedrad-synth";

// Everything known about one generated case.
struct CaseRecord {
  std::string center;
  std::string case_id;
  int center_index = 0;
  int requested_lesions = 0;
  synth_internal::Clinical clinical;
  synth_internal::Outcomes outcomes;
  std::string image, liver_mask, lesion_mask;  // relative to the center folder
  bool dicom = false;                           // image = series folder, + rtstruct
  std::string rtstruct;
  int slices = 0;
};

constexpr char kLesionRoiPattern[] = "Metastasis*";
constexpr char kLiverRoi[] = "Liver";

// The hospital form of a case: DICOM CT series + RTSTRUCT (voxel-edge
// outlines, so the masks come back exactly).
absl::Status WriteDicomCase(const synth_internal::RenderedCase& rendered, const std::string& seed,
                            const fs::path& dir) {
  features::ImageVolume ct;
  ct.geometry.size = rendered.grid.size;
  ct.geometry.spacing = rendered.grid.spacing;
  ct.geometry.origin = rendered.grid.origin;
  ct.voxels.assign(rendered.ct.begin(), rendered.ct.end());
  features::dicom::CtWriteOptions o;
  o.uid_seed = seed;
  FEDRAD_ASSIGN_OR_RETURN(features::dicom::SeriesUids uids,
                          features::dicom::WriteCtSeries(ct, (dir / "CT").string(), o));
  std::vector<features::dicom::RoiSpec> rois;
  rois.push_back({kLiverRoi, features::dicom::MaskContours(ct.geometry, rendered.liver, uids), ""});
  uint8_t max_label = 0;
  for (uint8_t v : rendered.lesions) max_label = std::max(max_label, v);
  for (int k = 1; k <= max_label; ++k) {
    std::vector<uint8_t> mask(rendered.lesions.size());
    for (size_t i = 0; i < mask.size(); ++i) mask[i] = rendered.lesions[i] == k;
    rois.push_back({absl::StrCat("Metastasis ", k),
                    features::dicom::MaskContours(ct.geometry, mask, uids), ""});
  }
  return features::dicom::WriteRtstruct(uids, rois, (dir / "RS.dcm").string(), seed);
}

std::string Fixed(double v, int digits) { return absl::StrFormat("%.*f", digits, v); }

absl::StatusOr<CaseRecord> MakeCase(const CohortOptions& options, const CenterProtocol& protocol,
                                    int center_index, int patient_index) {
  CaseRecord r;
  r.center = protocol.center;
  r.center_index = center_index;
  r.case_id = absl::StrFormat("%s_%04d", protocol.center, patient_index + 1);
  // One stream per patient: clinical data and anatomy come from `rng`, the
  // image noise from its own stream so the anatomy does not depend on the
  // center's matrix or slice count.
  Rng rng(synth_internal::DeriveSeed(options.seed, center_index, patient_index));
  Rng image_rng(synth_internal::DeriveSeed(options.seed, center_index, 1000000 + patient_index));
  r.clinical = synth_internal::DrawClinical(rng);
  r.requested_lesions = r.clinical.n_lesions;
  synth_internal::AnatomyInputs in;
  in.h_lesion = r.clinical.h_lesion;
  in.h_parenchyma = r.clinical.h_parenchyma;
  in.n_lesions = r.clinical.n_lesions;
  in.largest_diameter_mm = r.clinical.largest_diameter_mm;
  synth_internal::Anatomy anatomy = synth_internal::DrawAnatomy(in, rng);
  if (anatomy.lesions.empty()) {
    return absl::InternalError(absl::StrCat(r.case_id, ": no lesion could be placed"));
  }
  r.clinical.n_lesions = static_cast<int>(anatomy.lesions.size());
  double largest = 0;
  for (const auto& l : anatomy.lesions) largest = std::max(largest, 2 * l.radius_mm);
  r.clinical.largest_diameter_mm = std::round(largest * 10) / 10;
  r.outcomes = synth_internal::DrawOutcomes(r.clinical, protocol.log_hazard, rng);

  synth_internal::RenderedCase rendered =
      synth_internal::RenderCase(anatomy, protocol, kMatrix, kZExtentMm, image_rng);
  const std::string rel = absl::StrCat("cases/", r.case_id, "/");
  const fs::path dir = fs::path(options.out_dir) / protocol.center / rel;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::DataLossError(absl::StrCat("cannot create ", dir.string(), ": ", ec.message()));
  const fs::path base = fs::path(options.out_dir) / protocol.center;
  r.dicom = std::find(options.dicom_centers.begin(), options.dicom_centers.end(),
                      protocol.center) != options.dicom_centers.end();
  if (r.dicom) {
    r.image = rel + "CT";
    r.rtstruct = rel + "RS.dcm";
    r.slices = rendered.grid.size[2];
    FEDRAD_RETURN_IF_ERROR(WriteDicomCase(
        rendered, absl::StrCat("fedrad-synth/", options.seed, "/", r.case_id), dir));
    return r;
  }
  r.image = rel + "ct.nii.gz";
  r.liver_mask = rel + "liver.nii.gz";
  r.lesion_mask = rel + "lesions.nii.gz";
  FEDRAD_RETURN_IF_ERROR(synth_internal::WriteInt16(rendered.grid, rendered.ct, (base / r.image).string()));
  FEDRAD_RETURN_IF_ERROR(
      synth_internal::WriteUint8(rendered.grid, rendered.liver, (base / r.liver_mask).string()));
  FEDRAD_RETURN_IF_ERROR(
      synth_internal::WriteUint8(rendered.grid, rendered.lesions, (base / r.lesion_mask).string()));
  return r;
}

absl::Status PrepareOutDir(const CohortOptions& options) {
  const fs::path dir(options.out_dir);
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    if (!fs::exists(dir / kMarker)) {
      return absl::FailedPreconditionError(absl::StrCat(
          options.out_dir, " exists, is not empty and holds no earlier synthetic cohort; "
                           "choose a new folder"));
    }
    if (!options.overwrite) {
      return absl::FailedPreconditionError(absl::StrCat(
          options.out_dir, " already holds a synthetic cohort; pass --overwrite to replace it"));
    }
    fs::remove_all(dir, ec);
    if (ec) return absl::DataLossError(absl::StrCat("cannot remove ", options.out_dir, ": ", ec.message()));
  }
  fs::create_directories(dir, ec);
  if (ec) return absl::DataLossError(absl::StrCat("cannot create ", options.out_dir, ": ", ec.message()));
  return WriteStringToFile((dir / kMarker).string(),
                           "written by `fedrad synth`; --overwrite may delete this folder\n");
}

absl::Status WriteManifest(const CohortOptions& options, const std::string& center,
                           const std::vector<const CaseRecord*>& cases) {
  const bool dicom = !cases.empty() && cases.front()->dicom;
  std::vector<std::string> header = {"case_id", "image"};
  if (dicom) {
    header.insert(header.end(), {"rtstruct", "lesion_roi", "liver_roi"});
  } else {
    header.insert(header.end(), {"liver_mask", "lesion_mask"});
  }
  header.insert(header.end(),
                {"age", "male", "n_lesions", "largest_diameter_mm", "neoadjuvant_chemo",
                 "cea_ng_ml", "time_recurrence", "event_recurrence", "time_local_recurrence",
                 "event_local_recurrence", "time_dss", "event_dss", "recur2y"});
  CsvTable t(header, "manifest.csv");
  for (const CaseRecord* r : cases) {
    const auto& c = r->clinical;
    const auto& o = r->outcomes;
    std::vector<std::string> files = {r->case_id, r->image};
    if (dicom) {
      files.insert(files.end(), {r->rtstruct, kLesionRoiPattern, kLiverRoi});
    } else {
      files.insert(files.end(), {r->liver_mask, r->lesion_mask});
    }
    files.insert(files.end(), {absl::StrCat(c.age),
         absl::StrCat(c.male), absl::StrCat(c.n_lesions), Fixed(c.largest_diameter_mm, 1),
         absl::StrCat(c.chemo), Fixed(c.cea, 1), absl::StrCat(o.time_recurrence),
         absl::StrCat(o.event_recurrence), absl::StrCat(o.time_local_recurrence),
         absl::StrCat(o.event_local_recurrence), absl::StrCat(o.time_dss),
         absl::StrCat(o.event_dss), o.recur2y < 0 ? std::string() : absl::StrCat(o.recur2y)});
    FEDRAD_RETURN_IF_ERROR(t.AddRow(std::move(files)));
  }
  return WriteCsv((fs::path(options.out_dir) / center / "manifest.csv").string(), t);
}

absl::Status WriteTruth(const CohortOptions& options, const std::vector<CaseRecord>& cases,
                        const std::vector<CenterProtocol>& centers) {
  CsvTable t({"center", "case_id", "h_lesion", "h_parenchyma", "center_log_hazard",
              "lp_local_recurrence", "lp_distant_recurrence", "lp_post_recurrence_death",
              "log_risk_recurrence", "risk_dss_5y", "t_local_recurrence", "t_distant_recurrence",
              "t_recurrence", "t_dss", "t_other_death", "t_end_followup", "died_other_cause",
              "n_lesions_requested"},
             "truth.csv");
  auto num = [](double v) { return std::isinf(v) ? std::string("Inf") : absl::StrFormat("%.6g", v); };
  for (const CaseRecord& r : cases) {
    const auto& o = r.outcomes;
    FEDRAD_RETURN_IF_ERROR(t.AddRow(
        {r.center, r.case_id, num(r.clinical.h_lesion), num(r.clinical.h_parenchyma),
         num(centers[r.center_index].log_hazard), num(o.lp_local), num(o.lp_distant),
         num(o.lp_post), num(o.log_risk_recurrence), num(o.risk_dss_5y), num(o.t_local),
         num(o.t_distant), num(o.t_recurrence), num(o.t_dss), num(o.t_other_death), num(o.t_end),
         absl::StrCat(o.died_other_cause), absl::StrCat(r.requested_lesions)}));
  }
  return WriteCsv((fs::path(options.out_dir) / "truth.csv").string(), t);
}

std::vector<Concordance> TrueRiskConcordance(const std::vector<CaseRecord>& cases,
                                             const std::vector<CenterProtocol>& centers) {
  struct Spec {
    std::string outcome, risk;
    std::function<double(const CaseRecord&)> score;
    std::function<double(const CaseRecord&)> time;
    std::function<int(const CaseRecord&)> event;
    std::function<bool(const CaseRecord&)> use;
  };
  const std::vector<Spec> specs = {
      {"recurrence", "log_risk_recurrence",
       [](const CaseRecord& r) { return r.outcomes.log_risk_recurrence; },
       [](const CaseRecord& r) { return double(r.outcomes.time_recurrence); },
       [](const CaseRecord& r) { return r.outcomes.event_recurrence; },
       [](const CaseRecord&) { return true; }},
      {"local_recurrence", "lp_local_recurrence",
       [](const CaseRecord& r) { return r.outcomes.lp_local; },
       [](const CaseRecord& r) { return double(r.outcomes.time_local_recurrence); },
       [](const CaseRecord& r) { return r.outcomes.event_local_recurrence; },
       [](const CaseRecord&) { return true; }},
      {"dss", "risk_dss_5y", [](const CaseRecord& r) { return r.outcomes.risk_dss_5y; },
       [](const CaseRecord& r) { return double(r.outcomes.time_dss); },
       [](const CaseRecord& r) { return r.outcomes.event_dss; },
       [](const CaseRecord&) { return true; }},
      // AUC as a C-index: events at time 0, non-events at time 1.
      {"recur2y", "log_risk_recurrence",
       [](const CaseRecord& r) { return r.outcomes.log_risk_recurrence; },
       [](const CaseRecord& r) { return r.outcomes.recur2y == 1 ? 0.0 : 1.0; },
       [](const CaseRecord& r) { return r.outcomes.recur2y == 1 ? 1 : 0; },
       [](const CaseRecord& r) { return r.outcomes.recur2y >= 0; }},
  };
  std::vector<Concordance> out;
  for (const Spec& s : specs) {
    Concordance c{s.outcome, s.risk, {}, 0};
    std::vector<double> risk, time;
    std::vector<int> event, stratum;
    for (const CaseRecord& r : cases) {
      if (!s.use(r)) continue;
      risk.push_back(s.score(r));
      time.push_back(s.time(r));
      event.push_back(s.event(r));
      stratum.push_back(r.center_index);
    }
    c.within_center = synth_internal::HarrellC(risk, time, event, stratum);
    for (size_t k = 0; k < centers.size(); ++k) {
      std::vector<double> rk, tk;
      std::vector<int> ek, sk;
      for (size_t i = 0; i < risk.size(); ++i) {
        if (stratum[i] != static_cast<int>(k)) continue;
        rk.push_back(risk[i]);
        tk.push_back(time[i]);
        ek.push_back(event[i]);
        sk.push_back(0);
      }
      c.by_center.emplace_back(centers[k].center, synth_internal::HarrellC(rk, tk, ek, sk));
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::string Readme(const CohortOptions& options, const CohortSummary& s) {
  std::string r;
  absl::StrAppend(&r, "Synthetic CRLM CT cohort written by `fedrad synth`\n",
                  "====================================================\n\n",
                  "seed: ", options.seed, "\n", "centers: ", s.centers.size(), "\n",
                  "patients per center: ", absl::StrJoin(s.patients, ","), "\n\n");
  absl::StrAppend(&r,
                  "Everything here is simulated; no real patient is involved. The model that\n"
                  "generated it (latent variables, coefficients, censoring) is documented in\n"
                  "docs/synthetic-cohort.md of the fedrad source.\n\n"
                  "Layout\n------\n"
                  "  <center>/manifest.csv   one row per case: case_id, image, liver_mask,\n"
                  "                          lesion_mask (paths relative to <center>/), clinical\n"
                  "                          data and outcomes (times in days)\n"
                  "  <center>/cases/<case_id>/ct.nii.gz       CT, int16 HU, LPS, identity direction\n"
                  "  <center>/cases/<case_id>/liver.nii.gz    uint8, 1 = liver (lesions included)\n"
                  "  <center>/cases/<case_id>/lesions.nii.gz  uint8, metastasis k has label k\n"
                  "  truth.csv               latent variables and true risk per patient.\n"
                  "                          TRUTH ONLY: never give it to a study; it exists to\n"
                  "                          judge the study's results.\n\n");
  if (!options.dicom_centers.empty()) {
    absl::StrAppend(&r, "DICOM centers (", absl::StrJoin(options.dicom_centers, ", "),
                    "): the hospital path instead of NIfTI\n"
                    "  <center>/manifest.csv   case_id, image (the series folder), rtstruct,\n"
                    "                          lesion_roi \"", kLesionRoiPattern, "\", liver_roi \"",
                    kLiverRoi, "\", clinical data\n"
                    "  <center>/cases/<case_id>/CT/       DICOM CT series, int16 HU\n"
                    "  <center>/cases/<case_id>/RS.dcm    RTSTRUCT: Liver, Metastasis 1..n\n\n");
  }
  absl::StrAppend(&r, "Acquisition by center\n---------------------\n",
                  absl::StrFormat("%-6s %8s %8s %10s %9s %10s %12s %7s\n", "center", "pixel_mm",
                                  "slice_mm", "kernel_mm", "noise_hu", "hu_offset",
                                  "log_hazard", "slices"));
  for (const CenterProtocol& c : s.centers) {
    absl::StrAppend(&r, absl::StrFormat("%-6s %8.2f %8.2f %10.2f %9.1f %+10.0f %+12.2f %7d\n",
                                        c.center, c.pixel_mm, c.slice_mm, c.kernel_sigma_mm,
                                        c.noise_hu, c.hu_offset, c.log_hazard,
                                        static_cast<int>(std::lround(kZExtentMm / c.slice_mm))));
  }
  absl::StrAppend(&r, "Matrix ", kMatrix, " x ", kMatrix, ", axial coverage ", kZExtentMm, " mm.\n\n");
  absl::StrAppend(&r, "Events (all centers)\n--------------------\n");
  for (const auto& [name, n] : s.events) absl::StrAppend(&r, absl::StrFormat("  %-24s %d\n", name, n));
  absl::StrAppend(&r, "\nC-index of the TRUE risk (the ceiling a model can reach on these data;\n"
                      "Harrell's C, pairs within a center; recur2y: AUC)\n"
                      "-----------------------------------------------------------------\n");
  absl::StrAppend(&r, absl::StrFormat("%-18s %-20s %8s", "outcome", "risk column", "within"));
  for (const CenterProtocol& c : s.centers) absl::StrAppend(&r, absl::StrFormat(" %6s", c.center));
  absl::StrAppend(&r, "\n");
  for (const Concordance& c : s.true_risk_concordance) {
    absl::StrAppend(&r, absl::StrFormat("%-18s %-20s %8.3f", c.outcome, c.risk, c.within_center));
    for (const auto& [center, v] : c.by_center) absl::StrAppend(&r, absl::StrFormat(" %6.3f", v));
    absl::StrAppend(&r, "\n");
  }
  return r;
}

}  // namespace

std::vector<CenterProtocol> CenterProtocols(int centers, uint64_t seed) {
  // center, pixel, slice, kernel sigma, noise, offset, log hazard
  static const CenterProtocol kPresets[] = {
      {"C1", 0.78, 2.5, 0.6, 12, 0, 0.00},     // development center, standard kernel
      {"C2", 0.70, 1.25, 0.4, 22, -10, 0.15},  // thin slices, sharp kernel, noisy
      {"C3", 0.86, 5.0, 1.0, 9, 15, -0.20},    // thick slices, smooth
      {"C4", 0.82, 2.0, 1.8, 16, 40, 0.25},    // +40 HU, heavy blur
      {"C5", 0.90, 3.0, 0.8, 14, -20, 0.10},
      {"C6", 0.74, 1.0, 0.5, 18, 25, -0.10},
  };
  std::vector<CenterProtocol> out;
  for (int i = 0; i < centers; ++i) {
    if (i < 6) {
      out.push_back(kPresets[i]);
      continue;
    }
    Rng rng(synth_internal::DeriveSeed(seed, 0xCE47E5ull, i));
    CenterProtocol p;
    p.center = absl::StrCat("C", i + 1);
    p.pixel_mm = std::round(rng.Uniform(0.70, 0.90) * 100) / 100;
    p.slice_mm = std::vector<double>{1.0, 1.25, 2.0, 2.5, 3.0, 5.0}[rng.Categorical({1, 1, 1, 1, 1, 1})];
    p.kernel_sigma_mm = std::round(rng.Uniform(0.4, 1.8) * 10) / 10;
    p.noise_hu = std::round(rng.Uniform(8, 24));
    p.hu_offset = std::round(rng.Uniform(-30, 40));
    p.log_hazard = std::round(rng.Normal(0, 0.15) * 100) / 100;
    out.push_back(p);
  }
  return out;
}

absl::StatusOr<std::vector<int>> ParsePatientCounts(absl::string_view text, int centers) {
  std::vector<int> counts;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    part = absl::StripAsciiWhitespace(part);
    int n = 0;
    if (!absl::SimpleAtoi(part, &n) || n < 1 || n > kMaxPatientsPerCenter) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--patients: '", part, "' is not a patient count (an integer from 1 to ",
          kMaxPatientsPerCenter, ")"));
    }
    counts.push_back(n);
  }
  if (static_cast<int>(counts.size()) != centers) {
    return absl::InvalidArgumentError(absl::StrCat("--patients lists ", counts.size(),
                                                   " counts but --centers is ", centers,
                                                   "; give one count per center"));
  }
  return counts;
}

absl::StatusOr<CohortSummary> GenerateCohort(const CohortOptions& options) {
  if (options.out_dir.empty()) return absl::InvalidArgumentError("the output folder is required");
  const int n_centers = static_cast<int>(options.patients_per_center.size());
  if (n_centers < 1 || n_centers > kMaxCenters) {
    return absl::InvalidArgumentError(
        absl::StrCat("the number of centers must be 1 to ", kMaxCenters, ", got ", n_centers));
  }
  for (int n : options.patients_per_center) {
    if (n < 1 || n > kMaxPatientsPerCenter) {
      return absl::InvalidArgumentError(absl::StrCat("a center's patient count must be 1 to ",
                                                     kMaxPatientsPerCenter, ", got ", n));
    }
  }
  std::set<std::string> corrupt(options.corrupt_cases.begin(), options.corrupt_cases.end());
  for (const std::string& id : corrupt) {
    bool known = false;
    for (int c = 0; c < n_centers && !known; ++c) {
      for (int p = 0; p < options.patients_per_center[c] && !known; ++p) {
        known = id == absl::StrFormat("C%d_%04d", c + 1, p + 1);
      }
    }
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--corrupt-cases: '", id, "' is not a case of this cohort (ids are C<k>_<nnnn>, e.g. C2_0007)"));
    }
  }
  for (const std::string& center : options.dicom_centers) {
    int k = 0;
    if (!absl::SimpleAtoi(absl::StripPrefix(center, "C"), &k) || k < 1 || k > n_centers ||
        center != absl::StrCat("C", k)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--dicom-centers: '", center, "' is not a center of this cohort (C1..C", n_centers, ")"));
    }
  }
  FEDRAD_RETURN_IF_ERROR(PrepareOutDir(options));

  CohortSummary summary;
  summary.centers = CenterProtocols(n_centers, options.seed);
  summary.patients = options.patients_per_center;

  struct Job {
    int center, patient;
  };
  std::vector<Job> jobs;
  for (int c = 0; c < n_centers; ++c) {
    for (int p = 0; p < options.patients_per_center[c]; ++p) jobs.push_back({c, p});
  }
  std::vector<absl::StatusOr<CaseRecord>> results(jobs.size(), absl::UnknownError("not run"));
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto worker = [&] {
    for (size_t i = next++; i < jobs.size() && !failed; i = next++) {
      results[i] = MakeCase(options, summary.centers[jobs[i].center], jobs[i].center,
                            jobs[i].patient);
      if (!results[i].ok()) failed = true;
    }
  };
  int threads = options.threads > 0 ? options.threads
                                    : std::min(8, static_cast<int>(std::thread::hardware_concurrency()));
  threads = std::max(1, std::min<int>(threads, static_cast<int>(jobs.size())));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();

  std::vector<CaseRecord> cases;
  for (auto& r : results) {
    if (!r.ok() && r.status().code() != absl::StatusCode::kUnknown) return r.status();
    if (r.ok()) cases.push_back(*std::move(r));
  }
  if (cases.size() != jobs.size()) return absl::InternalError("a case was not generated");
  for (const CaseRecord& r : cases) {
    if (corrupt.count(r.case_id) == 0) continue;
    fs::path file = fs::path(options.out_dir) / summary.centers[r.center_index].center / r.image;
    // DICOM: the middle slice file is truncated (the series then misses a slice).
    if (r.dicom) file /= absl::StrFormat("CT_%04d.dcm", r.slices / 2);
    const std::string path = file.string();
    FEDRAD_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
    FEDRAD_RETURN_IF_ERROR(WriteStringToFile(path, bytes.substr(0, std::min<size_t>(64, bytes.size()))));
  }

  for (int c = 0; c < n_centers; ++c) {
    std::vector<const CaseRecord*> mine;
    for (const CaseRecord& r : cases) {
      if (r.center_index == c) mine.push_back(&r);
    }
    FEDRAD_RETURN_IF_ERROR(WriteManifest(options, summary.centers[c].center, mine));
  }
  FEDRAD_RETURN_IF_ERROR(WriteTruth(options, cases, summary.centers));

  std::map<std::string, int> events;
  int recur2y_known = 0;
  for (const CaseRecord& r : cases) {
    events["recurrence"] += r.outcomes.event_recurrence;
    events["local_recurrence"] += r.outcomes.event_local_recurrence;
    events["dss"] += r.outcomes.event_dss;
    events["other_cause_death"] += r.outcomes.died_other_cause;
    events["recur2y (1s)"] += r.outcomes.recur2y == 1 ? 1 : 0;
    recur2y_known += r.outcomes.recur2y >= 0 ? 1 : 0;
  }
  events["recur2y (known)"] = recur2y_known;
  summary.events.assign(events.begin(), events.end());
  summary.true_risk_concordance = TrueRiskConcordance(cases, summary.centers);
  summary.readme = Readme(options, summary);
  if (!corrupt.empty()) {
    absl::StrAppend(&summary.readme, "\nCorrupt CT files (truncated on purpose, --corrupt-cases): ",
                    absl::StrJoin(corrupt, ", "), "\n");
  }
  FEDRAD_RETURN_IF_ERROR(
      WriteStringToFile((fs::path(options.out_dir) / "README").string(), summary.readme));
  return summary;
}

}  // namespace fedrad::synth
