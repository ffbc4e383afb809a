#include "cli/features_settings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace fedrad::cli {
namespace {

using features::Discretisation;
using features::Interpolator;

TEST(FeatureSettings, EmptyTextGivesDocumentedCtDefaults) {
  auto b = ParseFeatureSettings("", "<test>");
  ASSERT_TRUE(b.ok()) << b.status();
  const auto& e = b->options.extraction;
  EXPECT_FALSE(e.resampling.enabled);
  EXPECT_EQ(*e.resegmentation.min, -1000);
  EXPECT_EQ(*e.resegmentation.max, 400);
  EXPECT_EQ(e.discretisation.method, Discretisation::Method::kFixedBinSize);
  EXPECT_EQ(e.discretisation.bin_width, 25);
  EXPECT_TRUE(e.families.empty());
  EXPECT_TRUE(e.texture_3d);
  EXPECT_FALSE(e.texture_2d);
}

TEST(FeatureSettings, PresetConfigEParses) {
  auto b = LoadFeatureSettings(std::string(FEDRAD_SOURCE_DIR) +
                               "/features/presets/ibsi_ct_config_e.textproto");
  ASSERT_TRUE(b.ok()) << b.status();
  const auto& e = b->options.extraction;
  EXPECT_TRUE(e.resampling.enabled);
  EXPECT_EQ(e.resampling.spacing, (std::array<double, 3>{2, 2, 2}));
  EXPECT_EQ(e.resampling.image_interpolator, Interpolator::kBSpline3);
  EXPECT_EQ(e.resampling.mask_interpolator, Interpolator::kLinear);
  EXPECT_EQ(e.outlier_sigma, 3);
  EXPECT_EQ(e.discretisation.method, Discretisation::Method::kFixedBinNumber);
  EXPECT_EQ(e.ivh_discretisation.bin_count, 1000);
  EXPECT_FALSE(b->options.regions.each_lesion);
}

TEST(FeatureSettings, EveryPresetParses) {
  for (const char* name : {"ibsi_digital_phantom", "ibsi_ct_config_a", "ibsi_ct_config_b",
                           "ibsi_ct_config_c", "ibsi_ct_config_d", "ibsi_ct_config_e"}) {
    auto b = LoadFeatureSettings(std::string(FEDRAD_SOURCE_DIR) + "/features/presets/" + name +
                                 ".textproto");
    EXPECT_TRUE(b.ok()) << name << ": " << b.status();
  }
}

TEST(FeatureSettings, EmptyResegmentationMeansNoRange) {
  auto b = ParseFeatureSettings("resegmentation {}", "<test>");
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->options.extraction.resegmentation.min.has_value());
  EXPECT_FALSE(b->options.extraction.resegmentation.max.has_value());
}

TEST(FeatureSettings, BadValuesAreRejectedWithTheSource) {
  auto two = ParseFeatureSettings("resampling { spacing_mm: [2, 2] }", "s.textproto");
  EXPECT_EQ(two.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(two.status().message()), testing::HasSubstr("s.textproto"));
  auto syntax = ParseFeatureSettings("resampling { spacing_mm: ", "s.textproto");
  EXPECT_THAT(std::string(syntax.status().message()), testing::HasSubstr("line 1"));
  auto family = ParseFeatureSettings("families: 'glcmm'", "s.textproto");
  EXPECT_THAT(std::string(family.status().message()), testing::HasSubstr("glcmm"));
  auto width = ParseFeatureSettings("discretisation { bin_width: 0 }", "s.textproto");
  EXPECT_FALSE(width.ok());
}

TEST(FeatureSettings, OverridesReplaceFamiliesAndDiscretisationAndChangeFingerprint) {
  auto b = ParseFeatureSettings("", "<test>");
  ASSERT_TRUE(b.ok());
  std::string before = b->fingerprint;
  ASSERT_TRUE(ApplyOverrides({"glcm,glrlm", 32, 0}, &*b).ok());
  EXPECT_EQ(b->options.extraction.families, (std::set<std::string>{"glcm", "glrlm"}));
  EXPECT_EQ(b->options.extraction.discretisation.method, Discretisation::Method::kFixedBinNumber);
  EXPECT_EQ(b->options.extraction.discretisation.bin_count, 32);
  EXPECT_NE(b->fingerprint, before);
  EXPECT_FALSE(ApplyOverrides({"", 32, 25}, &*b).ok());
  EXPECT_FALSE(ApplyOverrides({"texture", 0, 0}, &*b).ok());
}

}  // namespace
}  // namespace fedrad::cli
