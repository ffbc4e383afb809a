#include "site_node/feature_settings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "core/testing/status_matchers.h"

namespace fedrad::cli {
namespace {

using ::fedrad::testing::StatusIs;

using features::Discretisation;
using features::Interpolator;

TEST(FeatureSettings, EmptyTextGivesDocumentedCtDefaults) {
  ASSERT_OK_AND_ASSIGN(auto b, ParseFeatureSettings("", "<test>"));
  const auto& e = b.options.extraction;
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
  ASSERT_OK_AND_ASSIGN(auto b, LoadFeatureSettings(std::string(FEDRAD_SOURCE_DIR) +
                                                   "/features/presets/ibsi_ct_config_e.textproto"));
  const auto& e = b.options.extraction;
  EXPECT_TRUE(e.resampling.enabled);
  EXPECT_EQ(e.resampling.spacing, (std::array<double, 3>{2, 2, 2}));
  EXPECT_EQ(e.resampling.image_interpolator, Interpolator::kBSpline3);
  EXPECT_EQ(e.resampling.mask_interpolator, Interpolator::kLinear);
  EXPECT_EQ(e.outlier_sigma, 3);
  EXPECT_EQ(e.discretisation.method, Discretisation::Method::kFixedBinNumber);
  EXPECT_EQ(e.ivh_discretisation.bin_count, 1000);
  EXPECT_FALSE(b.options.regions.each_lesion);
}

TEST(FeatureSettings, EveryPresetParses) {
  for (const char* name : {"ibsi_digital_phantom", "ibsi_ct_config_a", "ibsi_ct_config_b",
                           "ibsi_ct_config_c", "ibsi_ct_config_d", "ibsi_ct_config_e"}) {
    auto b = LoadFeatureSettings(std::string(FEDRAD_SOURCE_DIR) + "/features/presets/" + name +
                                 ".textproto");
    EXPECT_OK(b) << name;
  }
}

TEST(FeatureSettings, EveryIbsi2PresetParsesToOneFilterOrNone) {
  namespace fs = std::filesystem;
  int count = 0;
  for (const auto& e : fs::directory_iterator(std::string(FEDRAD_SOURCE_DIR) + "/features/presets")) {
    const std::string name = e.path().filename().string();
    if (name.rfind("ibsi2_", 0) != 0) continue;
    ++count;
    auto b = LoadFeatureSettings(e.path().string());
    ASSERT_OK(b) << name;
    const auto& x = b->options.extraction;
    const bool no_filter = name == "ibsi2_phase2_1A.textproto" || name == "ibsi2_phase2_1B.textproto";
    EXPECT_EQ(x.filters.size(), no_filter ? 0u : 1u) << name;
    EXPECT_EQ(x.original, no_filter) << name;
    EXPECT_EQ(x.families, (std::set<std::string>{"stat"})) << name;
  }
  EXPECT_EQ(count, 33 + 18);  // phase-1 cases 1.a.1-10.b.1, phase-2 configs 1A-9B
}

TEST(FeatureSettings, FiltersConvertWithTheirParameters) {
  auto b = ParseFeatureSettings(
      "filters { log { sigma_mm: 1.5 } }\n"
      "filters { laws { kernel: 'L5S5' energy_distance: 7 rotation_invariant: true }"
      "          padding: CONSTANT in_plane: true }\n"
      "filters { gabor { sigma_mm: 5 lambda_mm: 2 gamma: 1.5 theta_step_deg: 22.5 } label: 'g' }",
      "<test>");
  ASSERT_OK(b);
  const auto& f = b->options.extraction.filters;
  ASSERT_EQ(f.size(), 3u);
  using features::filters::FilterKind;
  using features::filters::Padding;
  EXPECT_EQ(f[0].kind, FilterKind::kLoG);
  EXPECT_EQ(f[0].log.sigma_mm, 1.5);
  EXPECT_EQ(f[0].log.truncation, 4);          // default
  EXPECT_EQ(f[0].padding, Padding::kMirror);  // default
  EXPECT_EQ(f[1].kind, FilterKind::kLaws);
  EXPECT_TRUE(f[1].in_plane);
  EXPECT_EQ(f[1].padding, Padding::kConstant);
  EXPECT_TRUE(f[1].laws.max_pooling);  // Laws default pooling
  EXPECT_EQ(f[1].laws.energy_distance, 7);
  EXPECT_FALSE(f[2].gabor.max_pooling);  // Gabor default pooling
  EXPECT_EQ(f[2].label, "g");
  EXPECT_TRUE(b->options.extraction.original);
}

TEST(FeatureSettings, BadFiltersNameTheEntryAndTheField) {
  auto zero = ParseFeatureSettings("filters { mean { support: 3 } } filters { log { } }", "s.textproto");
  EXPECT_EQ(zero.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(zero.status().message()), ::testing::HasSubstr("filters[1]"));
  EXPECT_THAT(std::string(zero.status().message()), ::testing::HasSubstr("sigma_mm"));
  auto none = ParseFeatureSettings("filters { padding: MIRROR }", "s.textproto");
  EXPECT_THAT(std::string(none.status().message()), ::testing::HasSubstr("names no filter"));
  auto wavelet = ParseFeatureSettings(
      "filters { wavelet { family: 'db3' decomposition: 'LLQ' } }", "s.textproto");
  EXPECT_THAT(std::string(wavelet.status().message()), ::testing::HasSubstr("decomposition"));
  auto nothing = ParseFeatureSettings("original: false", "s.textproto");
  EXPECT_THAT(nothing, StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(FeatureSettings, FilterOverrideReplacesTheListAndChangesFingerprint) {
  auto b = ParseFeatureSettings("filters { mean { support: 5 } }", "<test>");
  ASSERT_OK(b);
  const std::string before = b->fingerprint;
  FeatureOverrides o;
  o.filters = "log:sigma_mm=1.5;laws:kernel=L5E5E5,energy_distance=7,rotation_invariant=true,"
              "pooling=max,padding=constant";
  ASSERT_OK(ApplyOverrides(o, &*b));
  const auto& f = b->options.extraction.filters;
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(features::filters::FilterLabel(f[0]), "log_s1.5");
  EXPECT_EQ(features::filters::FilterLabel(f[1]), "laws_l5e5e5_d7_rimax");
  EXPECT_EQ(f[1].padding, features::filters::Padding::kConstant);
  EXPECT_NE(b->fingerprint, before);
  o.filters = "lag:sigma_mm=1";
  EXPECT_THAT(std::string(ApplyOverrides(o, &*b).message()),
              ::testing::HasSubstr("unknown filter 'lag'"));
  o.filters = "log:sigma=1";
  EXPECT_THAT(std::string(ApplyOverrides(o, &*b).message()), ::testing::HasSubstr("sigma"));
  o.filters = "log:sigma_mm=0";
  EXPECT_THAT(std::string(ApplyOverrides(o, &*b).message()),
              ::testing::HasSubstr("sigma_mm must be > 0"));
  o.filters = "log:sigma_mm=1 } evil {";
  EXPECT_THAT(ApplyOverrides(o, &*b), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(FeatureSettings, EmptyResegmentationMeansNoRange) {
  auto b = ParseFeatureSettings("resegmentation {}", "<test>");
  ASSERT_OK(b);
  EXPECT_FALSE(b->options.extraction.resegmentation.min.has_value());
  EXPECT_FALSE(b->options.extraction.resegmentation.max.has_value());
}

TEST(FeatureSettings, BadValuesAreRejectedWithTheSource) {
  auto two = ParseFeatureSettings("resampling { spacing_mm: [2, 2] }", "s.textproto");
  EXPECT_EQ(two.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(two.status().message()), ::testing::HasSubstr("s.textproto"));
  auto syntax = ParseFeatureSettings("resampling { spacing_mm: ", "s.textproto");
  EXPECT_THAT(std::string(syntax.status().message()), ::testing::HasSubstr("line 1"));
  auto family = ParseFeatureSettings("families: 'glcmm'", "s.textproto");
  EXPECT_THAT(std::string(family.status().message()), ::testing::HasSubstr("glcmm"));
  auto width = ParseFeatureSettings("discretisation { bin_width: 0 }", "s.textproto");
  EXPECT_THAT(width, StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(FeatureSettings, OverridesReplaceFamiliesAndDiscretisationAndChangeFingerprint) {
  ASSERT_OK_AND_ASSIGN(auto b, ParseFeatureSettings("", "<test>"));
  std::string before = b.fingerprint;
  ASSERT_OK(ApplyOverrides({"glcm,glrlm", 32, 0, ""}, &b));
  EXPECT_EQ(b.options.extraction.families, (std::set<std::string>{"glcm", "glrlm"}));
  EXPECT_EQ(b.options.extraction.discretisation.method, Discretisation::Method::kFixedBinNumber);
  EXPECT_EQ(b.options.extraction.discretisation.bin_count, 32);
  EXPECT_NE(b.fingerprint, before);
  EXPECT_THAT(ApplyOverrides({"", 32, 25, ""}, &b), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ApplyOverrides({"texture", 0, 0, ""}, &b),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace fedrad::cli
