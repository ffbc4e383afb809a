// Tests of the synthetic cohort as written to disk: determinism, manifest,
// masks, center effects and argument checking.
#include "synth/cohort.h"

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "core/csv.h"
#include "core/hash.h"
#include "core/testing/status_matchers.h"
#include "features/dicom/dicom.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "synth/internal/nifti.h"

namespace fedrad::synth {
namespace {

using ::fedrad::testing::StatusIs;

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string FreshDir(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("synth_test_" + name);
  fs::remove_all(dir);
  return dir.string();
}

// SHA-256 of every file under `dir`, by relative path.
std::map<std::string, std::string> HashTree(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    auto h = Sha256FileHex(e.path().string());
    EXPECT_OK(h);
    out[fs::relative(e.path(), dir).string()] = h.ok() ? *h : "";
  }
  return out;
}

CohortOptions Options(const std::string& dir, std::vector<int> counts, uint64_t seed,
                      int threads = 2) {
  CohortOptions o;
  o.out_dir = dir;
  o.patients_per_center = std::move(counts);
  o.seed = seed;
  o.threads = threads;
  return o;
}

TEST(ParsePatientCounts, AcceptsOneCountPerCenter) {
  ASSERT_OK_AND_ASSIGN(auto counts, ParsePatientCounts("60, 45,80,30", 4));
  EXPECT_EQ(counts, (std::vector<int>{60, 45, 80, 30}));
}

TEST(ParsePatientCounts, RejectsAMismatchWithTheCenterCount) {
  auto counts = ParsePatientCounts("60,45,80", 4);
  EXPECT_EQ(counts.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(counts.status().message()),
              HasSubstr("--patients lists 3 counts but --centers is 4"));
}

TEST(ParsePatientCounts, RejectsNonPositiveOrMalformedCounts) {
  for (const char* bad : {"10,0", "10,-3", "10,abc", "10,", "10,2.5"}) {
    auto counts = ParsePatientCounts(bad, 2);
    EXPECT_EQ(counts.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(counts.status().message()), HasSubstr("is not a patient count"))
        << bad;
  }
}

TEST(GenerateCohort, RejectsBadOptions) {
  EXPECT_EQ(GenerateCohort(Options("", {3}, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GenerateCohort(Options(FreshDir("bad"), {}, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GenerateCohort(Options(FreshDir("bad"), {3, 0}, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(GenerateCohort, RefusesAFolderItDidNotWriteAndNeedsOverwriteForItsOwn) {
  const std::string dir = FreshDir("refuse");
  fs::create_directories(dir);
  ASSERT_OK(WriteStringToFile(dir + "/precious.txt", "keep me"));
  auto s = GenerateCohort(Options(dir, {1}, 1));
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(fs::exists(dir + "/precious.txt"));

  const std::string own = FreshDir("own");
  ASSERT_OK(GenerateCohort(Options(own, {1}, 1)));
  auto again = GenerateCohort(Options(own, {1}, 1));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(again.status().message()), HasSubstr("--overwrite"));
  CohortOptions o = Options(own, {1}, 2);
  o.overwrite = true;
  EXPECT_OK(GenerateCohort(o));
}

TEST(GenerateCohort, CorruptCasesGetATruncatedCtAndEverythingElseIsUnchanged) {
  const std::string clean = FreshDir("corrupt_clean"), bad = FreshDir("corrupt_bad");
  ASSERT_OK(GenerateCohort(Options(clean, {3, 2}, 11)));
  CohortOptions o = Options(bad, {3, 2}, 11);
  o.corrupt_cases = {"C2_0002"};
  ASSERT_OK_AND_ASSIGN(auto s, GenerateCohort(o));
  EXPECT_THAT(s.readme, HasSubstr("C2_0002"));
  const std::string ct = bad + "/C2/cases/C2_0002/ct.nii.gz";
  EXPECT_EQ(std::filesystem::file_size(ct), 64u);
  EXPECT_THAT(synth_internal::ReadInt16(ct), StatusIs(absl::StatusCode::kDataLoss));
  // Every other file is as without the option (README aside).
  auto a = HashTree(clean), b = HashTree(bad);
  for (const auto& [path, hash] : a) {
    if (path == "README" || path == "C2/cases/C2_0002/ct.nii.gz") continue;
    EXPECT_EQ(b.at(path), hash) << path;
  }
  CohortOptions unknown = Options(FreshDir("corrupt_unknown"), {3, 2}, 11);
  unknown.corrupt_cases = {"C3_0001"};
  auto refused = GenerateCohort(unknown);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("'C3_0001' is not a case"));
}

TEST(GenerateCohort, SameSeedGivesIdenticalBytesWhateverTheThreads) {
  const std::string a = FreshDir("det_a"), b = FreshDir("det_b"), c = FreshDir("det_c");
  ASSERT_OK(GenerateCohort(Options(a, {3, 2}, 99, 1)));
  ASSERT_OK(GenerateCohort(Options(b, {3, 2}, 99, 2)));
  ASSERT_OK(GenerateCohort(Options(c, {3, 2}, 100, 2)));
  const auto ha = HashTree(a), hb = HashTree(b), hc = HashTree(c);
  EXPECT_EQ(ha.size(), 3 + 2 + 5 * 3u);  // README, truth, marker; 2 manifests; 15 volumes
  EXPECT_EQ(ha, hb);
  EXPECT_NE(ha.at("C1/manifest.csv"), hc.at("C1/manifest.csv"));
  EXPECT_NE(ha.at("C1/cases/C1_0001/ct.nii.gz"), hc.at("C1/cases/C1_0001/ct.nii.gz"));
}

// The hospital path: a DICOM center holds the same CT and masks as the NIfTI
// form of the same seed (read back through features/dicom: series + RTSTRUCT,
// ROIs by pattern), byte-identical across runs; a corrupt DICOM case loses a
// slice; an unknown center is refused.
TEST(GenerateCohort, DicomCenterHoldsTheSameCtAndMasksAsNifti) {
  const std::string nifti = FreshDir("dicom_n"), dicom = FreshDir("dicom_d"),
                    again = FreshDir("dicom_a");
  ASSERT_OK(GenerateCohort(Options(nifti, {2, 2}, 21)));
  CohortOptions o = Options(dicom, {2, 2}, 21);
  o.dicom_centers = {"C2"};
  o.corrupt_cases = {"C2_0002"};
  ASSERT_OK(GenerateCohort(o));
  o.out_dir = again;
  o.threads = 1;
  ASSERT_OK(GenerateCohort(o));
  EXPECT_EQ(HashTree(dicom), HashTree(again));
  EXPECT_EQ(HashTree(nifti).at("C1/cases/C1_0001/ct.nii.gz"),
            HashTree(dicom).at("C1/cases/C1_0001/ct.nii.gz"));  // C1 stays NIfTI
  auto manifest = ReadCsv(dicom + "/C2/manifest.csv");
  ASSERT_OK(manifest);
  EXPECT_TRUE(manifest->HasColumn("rtstruct"));
  EXPECT_FALSE(manifest->HasColumn("lesion_mask"));

  auto c = features::dicom::ReadDicomCase({dicom + "/C2/cases/C2_0001/CT",
                                           dicom + "/C2/cases/C2_0001/RS.dcm", "",
                                           "Metastasis*", "Liver"});
  ASSERT_OK(c);
  auto ct = synth_internal::ReadInt16(nifti + "/C2/cases/C2_0001/ct.nii.gz");
  auto liver = synth_internal::ReadUint8(nifti + "/C2/cases/C2_0001/liver.nii.gz");
  auto lesions = synth_internal::ReadUint8(nifti + "/C2/cases/C2_0001/lesions.nii.gz");
  ASSERT_OK(ct);
  ASSERT_OK(liver);
  ASSERT_OK(lesions);
  ASSERT_EQ(c->image.voxels.size(), ct->voxels.size());
  ASSERT_TRUE(c->liver.has_value());
  int64_t lesion_voxels = 0;
  for (size_t i = 0; i < ct->voxels.size(); ++i) {
    ASSERT_EQ(c->image.voxels[i], ct->voxels[i]) << i;
    ASSERT_EQ(c->liver->voxels[i] != 0, liver->voxels[i] != 0) << i;
    ASSERT_EQ(c->lesions.voxels[i], lesions->voxels[i]) << i;  // Metastasis k = label k
    lesion_voxels += lesions->voxels[i] != 0;
  }
  EXPECT_GT(lesion_voxels, 0);
  auto corrupt = features::dicom::ReadDicomCase({dicom + "/C2/cases/C2_0002/CT",
                                                 dicom + "/C2/cases/C2_0002/RS.dcm", "",
                                                 "Metastasis*", "Liver"});
  ASSERT_THAT(corrupt, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing slice")));

  CohortOptions bad = Options(FreshDir("dicom_bad"), {1}, 1);
  bad.dicom_centers = {"C2"};
  EXPECT_EQ(GenerateCohort(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

// One shared cohort for the content tests: 4 centers, 3 patients each.
class CohortContent : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(FreshDir("content"));
    auto s = GenerateCohort(Options(*dir_, {3, 3, 3, 3}, 5));
    ASSERT_OK(s);
    summary_ = new CohortSummary(*s);
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete summary_;
  }
  static std::string* dir_;
  static CohortSummary* summary_;
};
std::string* CohortContent::dir_ = nullptr;
CohortSummary* CohortContent::summary_ = nullptr;

TEST_F(CohortContent, ManifestIsReadableByCoreCsv) {
  for (const char* center : {"C1", "C2", "C3", "C4"}) {
    ASSERT_OK_AND_ASSIGN(auto t, ReadCsv(*dir_ + "/" + center + "/manifest.csv"));
    EXPECT_EQ(t.num_rows(), 3u);
    EXPECT_OK(
        t.RequireColumns({"case_id", "image", "lesion_mask", "liver_mask", "age", "male",
                          "n_lesions", "largest_diameter_mm", "neoadjuvant_chemo", "cea_ng_ml",
                          "time_recurrence", "event_recurrence", "time_local_recurrence",
                          "event_local_recurrence", "time_dss", "event_dss", "recur2y"}));
    EXPECT_OK(t.RequireUnique("case_id"));
    for (const char* col : {"age", "male", "n_lesions", "largest_diameter_mm", "neoadjuvant_chemo",
                            "cea_ng_ml", "time_recurrence", "event_recurrence",
                            "time_local_recurrence", "event_local_recurrence", "time_dss",
                            "event_dss"}) {
      EXPECT_OK(t.NumericColumn(col, MissingValues::kReject)) << center << " " << col;
    }
    EXPECT_OK(t.NumericColumn("recur2y", MissingValues::kAllow));
  }
  ASSERT_OK_AND_ASSIGN(auto truth, ReadCsv(*dir_ + "/truth.csv"));
  EXPECT_EQ(truth.num_rows(), 12u);
}

TEST_F(CohortContent, LesionMasksLieInTheLiverAndMatchTheManifestCount) {
  for (const char* center : {"C1", "C2", "C3", "C4"}) {
    const std::string base = *dir_ + "/" + center + "/";
    ASSERT_OK_AND_ASSIGN(auto t, ReadCsv(base + "manifest.csv"));
    ASSERT_OK_AND_ASSIGN(auto n_lesions, t.NumericColumn("n_lesions", MissingValues::kReject));
    for (size_t r = 0; r < t.num_rows(); ++r) {
      auto ct = synth_internal::ReadInt16(base + t.cell(r, t.ColumnIndex("image")));
      auto liver = synth_internal::ReadUint8(base + t.cell(r, t.ColumnIndex("liver_mask")));
      auto lesions = synth_internal::ReadUint8(base + t.cell(r, t.ColumnIndex("lesion_mask")));
      ASSERT_OK(ct);
      ASSERT_OK(liver);
      ASSERT_OK(lesions);
      ASSERT_EQ(ct->voxels.size(), lesions->voxels.size());
      ASSERT_EQ(ct->grid.size, lesions->grid.size);
      std::set<int> labels;
      for (size_t i = 0; i < lesions->voxels.size(); ++i) {
        if (lesions->voxels[i]) {
          labels.insert(lesions->voxels[i]);
          ASSERT_EQ(liver->voxels[i], 1) << t.cell(r, 0);
        }
      }
      std::set<int> expected;
      for (int k = 1; k <= n_lesions[r]; ++k) expected.insert(k);
      EXPECT_EQ(labels, expected) << t.cell(r, 0);
    }
  }
}

TEST_F(CohortContent, CentersDifferByTheirProtocols) {
  // The median HU of the parenchyma (liver minus lesions), averaged by
  // center, follows the centers' HU offsets (C2 -10, C3 +15, C4 +40).
  std::map<std::string, double> mean_median;
  for (const char* center : {"C1", "C2", "C3", "C4"}) {
    const std::string base = *dir_ + "/" + center + "/";
    ASSERT_OK_AND_ASSIGN(auto t, ReadCsv(base + "manifest.csv"));
    for (size_t r = 0; r < t.num_rows(); ++r) {
      auto ct = synth_internal::ReadInt16(base + t.cell(r, t.ColumnIndex("image")));
      auto liver = synth_internal::ReadUint8(base + t.cell(r, t.ColumnIndex("liver_mask")));
      auto lesions = synth_internal::ReadUint8(base + t.cell(r, t.ColumnIndex("lesion_mask")));
      ASSERT_OK(ct);
      ASSERT_OK(liver);
      ASSERT_OK(lesions);
      std::vector<int> bkg;
      for (size_t i = 0; i < ct->voxels.size(); ++i) {
        if (liver->voxels[i] && !lesions->voxels[i]) bkg.push_back(ct->voxels[i]);
      }
      std::nth_element(bkg.begin(), bkg.begin() + bkg.size() / 2, bkg.end());
      mean_median[center] += bkg[bkg.size() / 2] / 3.0;
    }
    // Spacing is the protocol's.
    auto ct = synth_internal::ReadInt16(base + t.cell(0, t.ColumnIndex("image")));
    ASSERT_OK(ct);
    const CenterProtocol& p =
        summary_->centers[std::string(center) == "C1" ? 0 : center[1] - '1'];
    EXPECT_NEAR(ct->grid.spacing[0], p.pixel_mm, 1e-4);
    EXPECT_NEAR(ct->grid.spacing[2], p.slice_mm, 1e-4);
  }
  // Parenchyma is 105 HU + N(0, 6) per patient: with 3 patients per center
  // the difference of two means has SD ~5 HU; allow 3 SD.
  EXPECT_NEAR(mean_median["C4"] - mean_median["C1"], 40, 15);
  EXPECT_NEAR(mean_median["C3"] - mean_median["C1"], 15, 15);
  EXPECT_GT(mean_median["C4"] - mean_median["C2"], 30);
}

TEST_F(CohortContent, ReadmeStatesSeedAndTrueRiskConcordance) {
  ASSERT_OK_AND_ASSIGN(auto readme, ReadFileToString(*dir_ + "/README"));
  EXPECT_THAT(readme, HasSubstr("seed: 5"));
  EXPECT_THAT(readme, HasSubstr("TRUTH ONLY"));
  EXPECT_THAT(readme, HasSubstr("C-index of the TRUE risk"));
  ASSERT_EQ(summary_->true_risk_concordance.size(), 4u);
}

// The `fedrad synth` command refuses bad flags with exit code 2 and a
// message naming the problem (skipped when the fedrad binary is not built).
TEST(FedradSynthCommand, RejectsBadArgumentsClearly) {
  const std::string fedrad = std::string(FEDRAD_BIN_DIR) + "/fedrad";
  if (!fs::exists(fedrad)) GTEST_SKIP() << fedrad << " not built";
  const std::string log = FreshDir("cli") + ".log";
  auto run = [&](const std::string& args) {
    const int rc = std::system((fedrad + " synth " + args + " > " + log + " 2>&1").c_str());
    auto text = ReadFileToString(log);
    return std::make_pair(WEXITSTATUS(rc), text.ok() ? *text : "");
  };
  auto [rc1, out1] = run("--out " + FreshDir("cli_a") + " --centers 4 --patients 60,45,80");
  EXPECT_EQ(rc1, 2);
  EXPECT_THAT(out1, HasSubstr("--patients lists 3 counts but --centers is 4"));
  auto [rc2, out2] = run("--centers 2 --patients 3,3");
  EXPECT_EQ(rc2, 2);
  EXPECT_THAT(out2, HasSubstr("--out is required"));
  auto [rc3, out3] = run("--out " + FreshDir("cli_b") + " --centers 0 --patients ''");
  EXPECT_EQ(rc3, 2);
  EXPECT_THAT(out3, HasSubstr("--centers must be from 1 to 26"));
  auto [rc4, out4] = run("--out " + FreshDir("cli_c") + " --centers 1 --patients 2 --seed 3");
  EXPECT_EQ(rc4, 0) << out4;
  EXPECT_THAT(out4, HasSubstr("C-index of the TRUE risk"));
}

}  // namespace
}  // namespace fedrad::synth
