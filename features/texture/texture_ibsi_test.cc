// Checks every GLCM, GLRLM, GLSZM, GLDZM, NGTDM and NGLDM value on the IBSI
// digital phantom against tests/data/ibsi/digital_phantom_reference_values.csv,
// which holds the reference values of the IBSI reference manual (chapter
// "Image features", ibsi-doc commit b952e71; see tests/data/ibsi/README.md).
// A tolerance of 0 means: our value rounded to 3 significant digits equals the
// manual's (which IBSI rounded to 3 significant digits).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <string>

#include "core/csv.h"
#include "core/testing/status_matchers.h"
#include "features/texture/texture.h"
#include "features/texture/texture_testutil.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fedrad::features {
namespace {

double RoundSignificant(double x, int digits) {
  if (x == 0.0 || !std::isfinite(x)) return x;
  const double e = std::floor(std::log10(std::fabs(x)));
  const double factor = std::pow(10.0, digits - 1 - e);
  return std::round(x * factor) / factor;
}

// "Normalised grey level non-uniformity" -> "normalised_grey_level_non_uniformity".
std::string SnakeCase(const std::string& name) {
  std::string s;
  for (char c : name) {
    if (c == ' ' || c == '-') {
      s += '_';
    } else {
      s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return s;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

TEST(TextureIbsi, DigitalPhantomMatchesEveryIbsiReferenceValue) {
  ASSERT_OK_AND_ASSIGN(DiscreteVolume phantom, testing::LoadDigitalPhantom());
  absl::StatusOr<FeatureList> features = ComputeTextureFeatures(phantom, TextureOptions{});
  ASSERT_OK(features);

  std::map<std::string, const FeatureValue*> by_key;
  for (const FeatureValue& f : *features) {
    const std::string key = f.family + "|" + f.ibsi_code + "|" + f.aggregation;
    EXPECT_EQ(by_key.count(key), 0u) << "duplicate feature " << key;
    by_key[key] = &f;
  }

  ASSERT_OK_AND_ASSIGN(CsvTable ref, ReadCsv(std::string(FEDRAD_TEST_DATA_DIR) +
                                             "/ibsi/digital_phantom_reference_values.csv"));
  const int c_family = ref.ColumnIndex("family"), c_name = ref.ColumnIndex("feature_name"),
            c_code = ref.ColumnIndex("ibsi_code"), c_agg = ref.ColumnIndex("aggregation"),
            c_value = ref.ColumnIndex("value"), c_tol = ref.ColumnIndex("tolerance");
  const std::map<std::string, int> expected_rows = {{"glcm", 150}, {"glrlm", 96}, {"glszm", 48},
                                                    {"gldzm", 48}, {"ngtdm", 15}, {"ngldm", 51}};
  std::map<std::string, int> rows, passed;
  for (size_t r = 0; r < ref.num_rows(); ++r) {
    const std::string family = Lower(ref.cell(r, c_family));
    if (expected_rows.count(family) == 0) continue;
    ++rows[family];
    const std::string key = family + "|" + ref.cell(r, c_code) + "|" + ref.cell(r, c_agg);
    auto it = by_key.find(key);
    if (it == by_key.end()) {
      ADD_FAILURE() << "missing " << key << " (" << ref.cell(r, c_name) << ")";
      continue;
    }
    const FeatureValue& f = *it->second;
    EXPECT_EQ(f.feature, SnakeCase(ref.cell(r, c_name))) << key;
    double value = 0, tol = 0;
    ASSERT_TRUE(ParseNumber(ref.cell(r, c_value), &value));
    ASSERT_TRUE(ParseNumber(ref.cell(r, c_tol), &tol));
    bool ok;
    if (tol == 0.0) {
      ok =
          std::fabs(RoundSignificant(f.value, 3) - value) <= 1e-9 * std::max(1.0, std::fabs(value));
    } else {
      ok = std::fabs(f.value - value) <= tol;
    }
    EXPECT_TRUE(ok) << key << " " << ref.cell(r, c_name) << ": got " << f.value
                    << ", IBSI reference " << value << " (tolerance " << tol << ")";
    passed[family] += ok;
  }
  for (const auto& [family, n] : expected_rows) {
    EXPECT_EQ(rows[family], n) << family;
    EXPECT_EQ(passed[family], n) << family << ": " << passed[family] << "/" << rows[family];
    std::printf("[ IBSI ] %-6s %3d/%3d reference values match\n", family.c_str(), passed[family],
                rows[family]);
  }
}

}  // namespace
}  // namespace fedrad::features
