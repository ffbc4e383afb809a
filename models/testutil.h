// Shared helpers for the models/ tests: the seeded three-site cohort and the
// R reference numbers in models/testdata/ (made by make_fixtures.R).
#ifndef FEDRAD_MODELS_TESTUTIL_H_
#define FEDRAD_MODELS_TESTUTIL_H_

#include <string>
#include <vector>

#include <Eigen/Dense>
#include <nlohmann/json.hpp>

#include "core/csv.h"
#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "models/data.h"

namespace fedrad::models::testing {

inline std::string TestdataPath(const std::string& name) {
  return std::string(FEDRAD_SOURCE_DIR) + "/models/testdata/" + name;
}

inline nlohmann::json Reference() {
  auto text = ReadFileToString(TestdataPath("reference.json"));
  EXPECT_OK(text);
  return nlohmann::json::parse(*text);
}

inline const std::vector<std::string>& SiteNames() {
  static const std::vector<std::string> kSites = {"A", "B", "C"};
  return kSites;
}

inline const std::vector<std::string>& Covariates() {
  static const std::vector<std::string> kCovs = {"x1", "x2", "x3", "x4"};
  return kCovs;
}

inline CsvTable SiteTable(const std::string& site) {
  auto t = ReadCsv(TestdataPath("site_" + site + ".csv"));
  EXPECT_OK(t);
  return *t;
}

inline ModelRows SurvivalRows(const std::string& site) {
  auto rows = ExtractModelRows(SiteTable(site), OutcomeColumns::Survival("time", "status"),
                               Covariates());
  EXPECT_OK(rows);
  return *rows;
}

inline ModelRows BinaryRows(const std::string& site) {
  auto rows = ExtractModelRows(SiteTable(site), OutcomeColumns::Binary("recur2y"), Covariates());
  EXPECT_OK(rows);
  return *rows;
}

inline Eigen::VectorXd ToVector(const nlohmann::json& j) {
  Eigen::VectorXd v(static_cast<Eigen::Index>(j.size()));
  Eigen::Index i = 0;
  for (const auto& e : j) v[i++] = e.get<double>();
  return v;
}

inline Eigen::MatrixXd ToMatrix(const nlohmann::json& j) {
  Eigen::MatrixXd m(static_cast<Eigen::Index>(j.size()), static_cast<Eigen::Index>(j[0].size()));
  for (size_t r = 0; r < j.size(); ++r) {
    for (size_t c = 0; c < j[r].size(); ++c) {
      m(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)) = j[r][c].get<double>();
    }
  }
  return m;
}

inline Eigen::MatrixXd WithIntercept(const Eigen::MatrixXd& x) {
  Eigen::MatrixXd d(x.rows(), x.cols() + 1);
  d.col(0).setOnes();
  d.rightCols(x.cols()) = x;
  return d;
}

}  // namespace fedrad::models::testing

#endif  // FEDRAD_MODELS_TESTUTIL_H_
