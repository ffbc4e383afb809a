// End-to-end test of `fedrad extract` on a small cohort: wide output,
// errors file, progress on stderr, cache on re-run, overrides, usage errors.
// Runs the real binary (FEDRAD_BIN_DIR/fedrad).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/csv.h"
#include "core/testing/status_matchers.h"
#include "features/features_testutil.h"
#include "features/image_io.h"

namespace fedrad::features {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ExtractCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fedrad_cli_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ + "/data");
    Geometry g = testutil::MakeGeometry(20, 20, 10, {1, 1, 2});
    ASSERT_OK(WriteImage(testutil::MakeCtLike(g, 5), dir_ + "/data/ct.nrrd"));
    LabelVolume lesions = testutil::MakeBall(g, {6, 10, 5}, 2, 1);
    LabelVolume second = testutil::MakeBall(g, {14, 10, 5}, 3, 2);
    for (size_t i = 0; i < lesions.voxels.size(); ++i) lesions.voxels[i] += second.voxels[i];
    ASSERT_OK(WriteLabelMap(lesions, dir_ + "/data/lesions.nii.gz"));
    ASSERT_OK(WriteLabelMap(testutil::MakeBall(g, {10, 10, 5}, 8), dir_ + "/data/liver.mha"));
    std::ofstream(dir_ + "/manifest.csv")
        << "case_id,image,lesion_mask,liver_mask,centre\n"
        << "c1,data/ct.nrrd,data/lesions.nii.gz,data/liver.mha,X\n"
        << "c2,data/missing.nrrd,data/lesions.nii.gz,,X\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  int Run(const std::string& args, std::string* err) {
    std::string cmd = std::string(FEDRAD_BIN_DIR) + "/fedrad extract " + args + " 2> " + dir_ +
                      "/stderr.txt > /dev/null";
    int rc = std::system(cmd.c_str());
    *err = Slurp(dir_ + "/stderr.txt");
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }
  std::string dir_;
};

TEST_F(ExtractCli, CohortWritesWideTableErrorsAndUsesTheCacheOnRerun) {
  std::string err;
  const std::string args = "--manifest " + dir_ + "/manifest.csv --out " + dir_ +
                           "/out/features.csv --threads 2 --families morph,stat,ih";
  ASSERT_EQ(Run(args, &err), 0) << err;
  EXPECT_THAT(err, HasSubstr("c1: ok"));
  EXPECT_THAT(err, HasSubstr("c2: FAILED"));
  EXPECT_THAT(err, HasSubstr("extracted 1 of 2 cases"));
  ASSERT_OK_AND_ASSIGN(auto wide, ReadCsv(dir_ + "/out/features.csv"));
  EXPECT_EQ(wide.header()[0], "case_id");
  EXPECT_EQ(wide.header()[1], "roi");
  EXPECT_TRUE(wide.HasColumn("morph_volume_mesh"));
  EXPECT_TRUE(wide.HasColumn("ih_entropy"));
  EXPECT_FALSE(wide.HasColumn("glcm_joint_maximum_3d_merged"));  // --families
  auto rois = wide.StringColumn("roi");
  EXPECT_THAT(*rois, ::testing::ElementsAre("lesion_1", "lesion_2", "lesions", "liver", "bkg",
                                            "largest_lesion", "patient"));
  ASSERT_OK_AND_ASSIGN(auto errors, ReadCsv(dir_ + "/out/features.errors.csv"));
  ASSERT_EQ(errors.num_rows(), 1u);
  EXPECT_EQ(errors.cell(0, 0), "c2");
  EXPECT_THAT(errors.cell(0, 1), HasSubstr("missing.nrrd"));

  ASSERT_EQ(Run(args, &err), 0) << err;
  EXPECT_THAT(err, HasSubstr("c1: cached"));
  // Another bin count is another setting: recomputed.
  ASSERT_EQ(Run(args + " --bin-count 16", &err), 0) << err;
  EXPECT_THAT(err, HasSubstr("c1: ok"));
}

TEST_F(ExtractCli, SingleCaseLongFormatHasTheIbsiColumns) {
  std::string err;
  ASSERT_EQ(Run("--image " + dir_ + "/data/ct.nrrd --mask " + dir_ +
                    "/data/lesions.nii.gz --format long --families ivh --out " + dir_ + "/one.csv",
                &err),
            0)
      << err;
  ASSERT_OK_AND_ASSIGN(auto t, ReadCsv(dir_ + "/one.csv"));
  EXPECT_EQ(t.header(), (std::vector<std::string>{"case_id", "roi", "filter", "family", "feature",
                                                  "ibsi_code", "aggregation", "value"}));
  EXPECT_EQ(t.cell(0, 0), "ct");  // case id from the file name
  EXPECT_EQ(t.cell(0, 2), "");    // no filter: the original image
  EXPECT_EQ(t.cell(0, 4), "v10");
  EXPECT_EQ(t.cell(0, 5), "BC2M");
}

TEST_F(ExtractCli, FilterOverrideAddsPrefixedColumnsAndSavesResponseMaps) {
  std::string err;
  const std::string maps = dir_ + "/maps";
  ASSERT_EQ(Run("--image " + dir_ + "/data/ct.nrrd --mask " + dir_ +
                    "/data/lesions.nii.gz --families stat --out " + dir_ + "/f.csv" +
                    " --filter 'log:sigma_mm=1.5;mean:support=3,in_plane=true'" +
                    " --save-response-map " + maps,
                &err),
            0)
      << err;
  ASSERT_OK_AND_ASSIGN(auto wide, ReadCsv(dir_ + "/f.csv"));
  EXPECT_TRUE(wide.HasColumn("stat_mean"));  // the original image, unprefixed
  EXPECT_TRUE(wide.HasColumn("log_s1.5_stat_mean"));
  EXPECT_TRUE(wide.HasColumn("mean_m3_2d_stat_mean"));
  // One map per filter and region, on the grid of the region's crop.
  auto map = ReadImage(maps + "/ct_lesion_1_log_s1.5.nii.gz");
  ASSERT_OK(map);
  EXPECT_GT(map->geometry.NumVoxels(), 0u);
  EXPECT_TRUE(fs::exists(maps + "/ct_lesions_mean_m3_2d.nii.gz"));

  EXPECT_EQ(Run("--image a --mask b --out x.csv --filter 'lag:sigma_mm=1'", &err), 2);
  EXPECT_THAT(err, HasSubstr("unknown filter 'lag'"));
  EXPECT_EQ(Run("--image a --mask b --out x.csv --filter 'log:sigma_mm=0'", &err), 2);
  EXPECT_THAT(err, HasSubstr("sigma_mm must be > 0"));
}

TEST_F(ExtractCli, UsageErrorsExitWithTwo) {
  std::string err;
  EXPECT_EQ(Run("--out x.csv", &err), 2);
  EXPECT_THAT(err, HasSubstr("--manifest or --image"));
  EXPECT_EQ(Run("--image a --mask b --out x.csv --format tall", &err), 2);
  EXPECT_EQ(Run("--image a --mask b --out x.csv --families glcmm", &err), 2);
  EXPECT_THAT(err, HasSubstr("glcmm"));
  EXPECT_EQ(Run("--image a --mask b --out x.csv --settings /nonexistent.textproto", &err), 2);
}

TEST_F(ExtractCli, SingleBadCaseExitsWithOneAndSaysWhy) {
  std::string err;
  EXPECT_EQ(Run("--image " + dir_ + "/data/nope.nii.gz --mask " + dir_ +
                    "/data/lesions.nii.gz --out " + dir_ + "/bad.csv",
                &err),
            1);
  EXPECT_THAT(err, HasSubstr("nope.nii.gz"));
}

}  // namespace
}  // namespace fedrad::features
