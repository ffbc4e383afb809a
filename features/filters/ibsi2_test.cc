// IBSI chapter 2 acceptance: runs the real `fedrad extract` with the shipped
// presets (features/presets/ibsi2_*.textproto).
//
// Phase 1: on the IBSI-2 digital phantoms, the response map written by
// --save-response-map must match the consensus response map voxel by voxel
// within 1 % of the reference map's range (max - min), the IBSI-2 pass rule.
// Reference maps: tests/data/ibsi2/reference_response_maps/<id>-ValidCRM.nii.gz
// (theibsi/ibsi_2_reference_data @ 5404579, CC0), ranges from
// tests/data/ibsi2/response_map_ranges.csv; see tests/data/README.md.
//
// Phase 2: on the IBSI CT radiomics phantom (tests/data/ibsi/), the 18
// intensity statistics of each configuration must lie within the consensus
// tolerance (tests/data/ibsi2/reference_feature_values/reference_values.csv,
// same source).
//
// A case or configuration is one line in kPhase1 / kPhase2.
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/csv.h"
#include "core/testing/status_matchers.h"
#include "features/image_io.h"

namespace {

namespace fs = std::filesystem;

struct Phase1Case {
  const char* id;       // "1_a_1": preset ibsi2_<id>, map <id>-ValidCRM.nii.gz
  const char* phantom;  // tests/data/ibsi2/digital_phantoms/<phantom>/
};

// Case -> phantom. Presets: features/presets/ibsi2_<id>.textproto.
const Phase1Case kPhase1[] = {
    {"1_a_1", "checkerboard"}, {"1_a_2", "checkerboard"}, {"1_a_3", "checkerboard"},
    {"1_a_4", "checkerboard"}, {"1_b_1", "impulse"},      {"2_a", "impulse"},
    {"2_b", "checkerboard"},   {"2_c", "checkerboard"},   {"3_a_1", "impulse"},
    {"3_a_2", "impulse"},      {"3_a_3", "impulse"},      {"3_b_1", "checkerboard"},
    {"3_b_2", "checkerboard"}, {"3_b_3", "checkerboard"}, {"3_c_1", "checkerboard"},
    {"3_c_2", "checkerboard"}, {"3_c_3", "checkerboard"}, {"4_a_1", "impulse"},
    {"4_a_2", "impulse"},      {"4_b_1", "sphere"},       {"4_b_2", "sphere"},
    {"5_a_1", "impulse"},      {"5_a_2", "impulse"},      {"6_a_1", "sphere"},
    {"6_a_2", "sphere"},       {"7_a_1", "checkerboard"}, {"7_a_2", "checkerboard"},
    {"8_a_1", "checkerboard"}, {"8_a_2", "checkerboard"}, {"8_a_3", "checkerboard"},
    {"9_a", "impulse"},        {"9_b_1", "sphere"},       {"10_b_1", "pattern_1"},
};

// Configurations. Presets: features/presets/ibsi2_phase2_<config>.textproto.
const char* const kPhase2[] = {"1A", "1B", "2A", "2B", "3A", "3B", "4A", "4B", "5A",
                               "5B", "6A", "6B", "7A", "7B", "8A", "8B", "9A", "9B"};

std::string DataDir() { return std::string(FEDRAD_TEST_DATA_DIR); }

// Runs fedrad extract; returns the long table (and fills `maps_dir`).
fedrad::CsvTable RunExtract(const std::string& image, const std::string& mask,
                            const std::string& preset, const std::string& tag,
                            const std::string& maps_dir) {
  const fs::path out = fs::temp_directory_path() / absl::StrCat("fedrad_ibsi2_", tag, "_",
                                                                ::getpid(), ".csv");
  std::string cmd = absl::StrCat(std::string(FEDRAD_BIN_DIR), "/fedrad extract --image ", image,
                                 " --mask ", mask, " --settings ", preset,
                                 " --format long --no-cache --case-id ", tag, " --out ",
                                 out.string());
  if (!maps_dir.empty()) absl::StrAppend(&cmd, " --save-response-map ", maps_dir);
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto t = fedrad::ReadCsv(out.string());
  fs::remove(out);
  EXPECT_OK(t);
  return t.ok() ? *t : fedrad::CsvTable({"empty"});
}

class Ibsi2Phase1 : public ::testing::TestWithParam<Phase1Case> {};

TEST_P(Ibsi2Phase1, ResponseMapMatchesTheConsensusMap) {
  const Phase1Case& c = GetParam();
  const std::string phantom = absl::StrCat(DataDir(), "/ibsi2/digital_phantoms/", c.phantom);
  const fs::path maps = fs::temp_directory_path() / absl::StrCat("fedrad_ibsi2_maps_", c.id,
                                                                 "_", ::getpid());
  fs::create_directories(maps);
  RunExtract(absl::StrCat(phantom, "/image/", c.phantom, ".nii.gz"), phantom + "/mask/mask.nii.gz",
             absl::StrCat(FEDRAD_SOURCE_DIR, "/features/presets/ibsi2_", c.id, ".textproto"),
             c.id, maps.string());
  // The one map written: <case>_lesions_<label>.nii.gz.
  std::string written;
  for (const auto& e : fs::directory_iterator(maps)) written = e.path().string();
  ASSERT_FALSE(written.empty()) << "no response map in " << maps;
  auto mine = fedrad::features::ReadImage(written);
  fs::remove_all(maps);
  auto ref = fedrad::features::ReadImage(absl::StrCat(
      DataDir(), "/ibsi2/reference_response_maps/", c.id, "-ValidCRM.nii.gz"));
  ASSERT_OK(mine);
  ASSERT_OK(ref);
  ASSERT_EQ(mine->geometry.size, ref->geometry.size);
  float lo = ref->voxels[0], hi = ref->voxels[0];
  for (float v : ref->voxels) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  const double tolerance = 0.01 * (hi - lo);
  size_t bad = 0, worst = 0;
  double worst_diff = 0;
  for (size_t i = 0; i < ref->voxels.size(); ++i) {
    const double d = std::abs(static_cast<double>(mine->voxels[i]) - ref->voxels[i]);
    if (d > tolerance) ++bad;
    if (d > worst_diff) {
      worst_diff = d;
      worst = i;
    }
  }
  EXPECT_EQ(bad, 0u) << c.id << ": " << bad << " voxels off by more than " << tolerance
                     << "; worst at index " << worst << ": " << mine->voxels[worst] << " vs "
                     << ref->voxels[worst];
}

INSTANTIATE_TEST_SUITE_P(Cases, Ibsi2Phase1, ::testing::ValuesIn(kPhase1),
                         [](const auto& info) { return std::string(info.param.id); });

class Ibsi2Phase2 : public ::testing::TestWithParam<const char*> {};

TEST_P(Ibsi2Phase2, IntensityStatisticsMatchTheConsensus) {
  const std::string config = GetParam();
  const std::string ct = DataDir() + "/ibsi/ct_radiomics_phantom/nifti";
  fedrad::CsvTable t = RunExtract(
      ct + "/image/phantom.nii.gz", ct + "/mask/mask.nii.gz",
      absl::StrCat(FEDRAD_SOURCE_DIR, "/features/presets/ibsi2_phase2_", config, ".textproto"),
      "phase2_" + config, "");
  std::map<std::string, double> mine;  // "stat_" + feature tag -> value
  static const std::map<std::string, std::string> kTag = {
      {"mean", "stat_mean"}, {"variance", "stat_var"}, {"skewness", "stat_skew"},
      {"kurtosis", "stat_kurt"}, {"median", "stat_median"}, {"minimum", "stat_min"},
      {"p10", "stat_p10"}, {"p90", "stat_p90"}, {"maximum", "stat_max"},
      {"interquartile_range", "stat_iqr"}, {"range", "stat_range"},
      {"mean_absolute_deviation", "stat_mad"}, {"robust_mean_absolute_deviation", "stat_rmad"},
      {"median_absolute_deviation", "stat_medad"}, {"coefficient_of_variation", "stat_cov"},
      {"quartile_coefficient_of_dispersion", "stat_qcod"}, {"energy", "stat_energy"},
      {"root_mean_square", "stat_rms"}};
  const int c_roi = t.ColumnIndex("roi"), c_fam = t.ColumnIndex("family"),
            c_feat = t.ColumnIndex("feature"), c_val = t.ColumnIndex("value");
  ASSERT_GE(c_val, 0);
  for (size_t i = 0; i < t.num_rows(); ++i) {
    if (t.cell(i, c_roi) != "lesions" || t.cell(i, c_fam) != "stat") continue;
    auto it = kTag.find(t.cell(i, c_feat));
    if (it == kTag.end()) continue;
    double v = NAN;
    fedrad::ParseNumber(t.cell(i, c_val), &v);
    mine[it->second] = v;
  }
  std::ifstream in(DataDir() + "/ibsi2/reference_feature_values/reference_values.csv");
  ASSERT_TRUE(in.good());
  std::string line;
  std::getline(in, line);  // filter_id;feature;feature_tag;consensus_value;tolerance
  const std::string id = absl::StrCat(config.substr(0, config.size() - 1), ".", std::string(1, config.back()));
  int checked = 0, no_consensus = 0;
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, ';');
    if (f.size() < 5 || f[0] != id) continue;
    if (f[3].empty()) {  // no consensus value (8.B quartile coefficient of dispersion)
      ++no_consensus;
      continue;
    }
    double ref = 0, tol = 0;
    ASSERT_TRUE(fedrad::ParseNumber(f[3], &ref) && fedrad::ParseNumber(f[4], &tol)) << line;
    ++checked;
    auto it = mine.find(f[2]);
    ASSERT_NE(it, mine.end()) << config << ": " << f[2] << " missing";
    EXPECT_LE(std::abs(it->second - ref), tol + 1e-9 * std::abs(ref))
        << config << " " << f[2] << ": got " << it->second << ", consensus " << ref << " +- "
        << tol;
  }
  EXPECT_EQ(checked + no_consensus, 18) << config;
  EXPECT_GE(checked, 17) << config;
}

INSTANTIATE_TEST_SUITE_P(Configs, Ibsi2Phase2, ::testing::ValuesIn(kPhase2),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
