// Shared by the federated ComBat tests (tasks_combat_test.cc: the site
// tasks driven by the coordinator's step) and the site's ComBat rules tests
// (tasks_combat_rules_test.cc: single handler calls): the fixture tables of
// harmonization/testdata (made by make_fixtures.R), a fresh temporary folder
// and a study whose harmonization section names one ComBat variant.
//
//   CsvTable s4 = combat_testing::Read(combat_testing::TestData("site_S4.csv"));
//   v1::Study study = combat_testing::MakeStudy({"p", "parametric", ""});
#ifndef FEDRAD_SITE_NODE_TASKS_COMBAT_TESTUTIL_H_
#define FEDRAD_SITE_NODE_TASKS_COMBAT_TESTUTIL_H_

#include <filesystem>
#include <string>

#include "core/csv.h"
#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "proto/study.pb.h"

namespace fedrad::site::combat_testing {

// harmonization/testdata/<name> in the source tree.
inline std::string TestData(const std::string& name) {
  return std::string(FEDRAD_SOURCE_DIR) + "/harmonization/testdata/" + name;
}

// The CSV at `path`; an empty table (and a test failure) if it does not read.
inline CsvTable Read(const std::string& path) {
  absl::StatusOr<CsvTable> t = ReadCsv(path);
  EXPECT_OK(t);
  return t.ok() ? *t : CsvTable();
}

// An empty folder combat_<name> under the test's temporary folder.
inline std::string TempDir(const std::string& name) {
  std::string dir = std::string(::testing::TempDir()) + "/combat_" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

struct Variant {
  std::string name;  // expected_<name>.csv
  std::string method;
  std::string reference;
  bool covariates = true;
  bool empirical_bayes = true;
  bool nonparametric_mean_only = false;
};

// A study harmonising the features ^f[0-9]+$ with variant `v` (covariates
// age and sex unless v.covariates is false).
inline v1::Study MakeStudy(const Variant& v) {
  v1::Study study;
  study.set_name("combat-" + v.name);
  auto* hz = study.mutable_harmonization();
  hz->set_enabled(true);
  hz->set_features("^f[0-9]+$");
  hz->set_method(v.method);
  hz->set_reference_site(v.reference);
  if (!v.empirical_bayes) hz->set_empirical_bayes(false);
  hz->set_nonparametric_mean_only(v.nonparametric_mean_only);
  if (v.covariates) {
    hz->add_covariates("age");
    hz->add_covariates("sex");
  }
  return study;
}

}  // namespace fedrad::site::combat_testing

#endif  // FEDRAD_SITE_NODE_TASKS_COMBAT_TESTUTIL_H_
