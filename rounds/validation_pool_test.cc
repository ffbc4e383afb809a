// rounds/validation_pool.h: the per-site validation read and the pooled
// meta-analysis, moved from the coordinator (issue 12), give the numbers the
// coordinator gave before the move.
//
// Fixture (rounds/testdata/validation_pool/, see its README.md): the signed
// models.validate messages of sites A, B and C in the leave-one-site-out
// study examples/studies/loso_validation.textproto on
// models/testdata/site_{A,B,C}.csv, and expected.json, the
// validation.<model>.sites and .pooled of that study's results.json as
// written by the coordinator of main at 0a0dfc6 (before the move).
#include "rounds/validation_pool.h"

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "gtest/gtest.h"
#include "models/metrics.h"
#include "proto/payload.h"
#include "proto/results_json.h"
#include "proto/rounds.pb.h"
#include "proto/task_kinds.h"
#include "proto/textproto.h"

namespace fedrad::rounds {
namespace {

using nlohmann::json;
namespace mv = ::fedrad::kinds::models_validate;

const std::string kDir = std::string(FEDRAD_SOURCE_DIR) + "/rounds/testdata/validation_pool/";

json Expected() {
  std::ifstream in(kDir + "expected.json");
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

// The released payload of `site`'s signed models.validate for `model`.
v1::Payload Answer(const std::string& model, const std::string& site) {
  v1::RoundMessage m;
  EXPECT_TRUE(ReadTextProto(kDir + model + "_" + site + ".textproto", &m).ok()) << model << site;
  EXPECT_EQ(m.kind(), "models.validate");
  return m.contribution().plain();
}

std::map<std::string, SiteValidation> ReadAll(const std::string& model, bool cox, double t) {
  std::map<std::string, SiteValidation> by_site;
  for (const char* s : {"A", "B", "C"}) {
    by_site[s] = ReadSiteValidation(Answer(model, s), cox, cox ? t : std::nan(""));
  }
  return by_site;
}

// validation.<model> as results.json prints it (PrintResults, as the
// coordinator writes it).
json Printed(const std::string& model, const std::map<std::string, SiteValidation>& by_site,
             const v1::Results::PooledValidation& pooled) {
  v1::Results r;
  v1::Results::ModelValidation& v = (*r.mutable_validation())[model];
  for (const auto& [s, sv] : by_site) (*v.mutable_sites())[s] = sv.metrics;
  *v.mutable_pooled() = pooled;
  absl::StatusOr<std::string> text = PrintResults(r);
  EXPECT_TRUE(text.ok()) << text.status();
  return json::parse(*text)["validation"][model];
}

TEST(ValidationPool, GivesTheCoordinatorsNumbersOfBeforeTheMove) {
  const json expected = Expected();
  for (const std::string model : {"cox", "logistic"}) {
    const bool cox = model == "cox";
    const double t = expected[model]["t"].get<double>();
    std::map<std::string, SiteValidation> by_site = ReadAll(model, cox, t);
    const json got = Printed(model, by_site, PoolValidation(by_site, cox));
    // Same printer, same doubles: the same text.
    EXPECT_EQ(got["sites"].dump(1), expected[model]["sites"].dump(1)) << model;
    EXPECT_EQ(got["pooled"].dump(1), expected[model]["pooled"].dump(1)) << model;
  }
}

// The stratified Harrell C is the C of the summed pair counts (Harrell's
// (concordant + tied/2) / comparable over all sites' comparable pairs).
TEST(ValidationPool, StratifiedHarrellCIsTheCOfTheSummedPairCounts) {
  double concordant = 0, discordant = 0, tied = 0;
  for (const char* s : {"A", "B", "C"}) {
    const v1::Payload p = Answer("cox", s);
    concordant += *kinds::GetOne(p, mv::kMetric, "concordant");
    discordant += *kinds::GetOne(p, mv::kMetric, "discordant");
    tied += *kinds::GetOne(p, mv::kMetric, "tied_risk");
  }
  const v1::Results::PooledValidation pooled =
      PoolValidation(ReadAll("cox", true, models::kDefaultHorizonDays), true);
  EXPECT_DOUBLE_EQ(pooled.comparable_pairs(), concordant + discordant + tied);
  EXPECT_DOUBLE_EQ(pooled.harrell_c_stratified(),
                   (concordant + tied / 2) / (concordant + discordant + tied));
}

// The meta-analysis of AUC: DerSimonian and Laird (1986) on logit(AUC) with
// the sites' bootstrap SEs, back-transformed; computed here from the
// payloads with the textbook formulas.
TEST(ValidationPool, AucMetaIsDerSimonianLairdOnTheLogitScale) {
  std::vector<double> y, v;
  for (const char* s : {"A", "B", "C"}) {
    const v1::Payload p = Answer("logistic", s);
    const double auc = *kinds::GetOne(p, mv::kMetric, "auc");
    const double se = *kinds::GetOne(p, mv::kMetric, "auc_se_logit");
    y.push_back(std::log(auc / (1 - auc)));
    v.push_back(se * se);
  }
  double sw = 0, sw2 = 0, swy = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    sw += 1 / v[i];
    sw2 += 1 / (v[i] * v[i]);
    swy += y[i] / v[i];
  }
  double q = 0;
  for (size_t i = 0; i < y.size(); ++i) q += (y[i] - swy / sw) * (y[i] - swy / sw) / v[i];
  const double tau2 = std::max(0.0, (q - 2) / (sw - sw2 / sw));
  double ws = 0, wsy = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    ws += 1 / (v[i] + tau2);
    wsy += y[i] / (v[i] + tau2);
  }
  const v1::Results::PooledValidation pooled =
      PoolValidation(ReadAll("logistic", false, 0), false);
  EXPECT_EQ(pooled.auc_meta_k(), 3);
  EXPECT_NEAR(pooled.auc_meta_q(), q, 1e-12);
  EXPECT_NEAR(pooled.auc_meta_tau2(), tau2, 1e-12);
  EXPECT_NEAR(pooled.auc_meta(), 1 / (1 + std::exp(-wsy / ws)), 1e-12);
}

// A site that withheld its event count (1..k-1 events): the pooled events
// are null, the pooled n still the sum.
TEST(ValidationPool, AWithheldEventCountMakesThePooledEventsNull) {
  std::map<std::string, SiteValidation> by_site;
  double n = 0;
  for (const char* s : {"A", "B", "C"}) {
    v1::Payload p = Answer("logistic", s);
    n += *kinds::Get(p, mv::kN);
    if (std::string(s) == "B") kinds::Put(&p, mv::kEvents, std::nan(""));
    by_site[s] = ReadSiteValidation(p, false, std::nan(""));
  }
  const v1::Results::PooledValidation pooled = PoolValidation(by_site, false);
  EXPECT_TRUE(std::isnan(pooled.events()));
  EXPECT_EQ(pooled.n(), static_cast<int>(n));
  EXPECT_TRUE(std::isnan(by_site["B"].metrics.events()));
}

// Found by tests/fuzz/fuzz_coordinator_result: a site's n of 1.4e248 was
// cast to an integer (undefined behaviour). Counts that are no whole number
// in 0..2^53 add nothing to the pooled n, and make the pooled events null.
TEST(ValidationPool, CountsThatAreNoCountsAddNothing) {
  std::map<std::string, SiteValidation> by_site;
  double n = 0;
  for (const char* s : {"A", "B", "C"}) {
    v1::Payload p = Answer("logistic", s);
    if (std::string(s) == "B") {
      kinds::Put(&p, mv::kN, 1.43044e248);
      kinds::Put(&p, mv::kEvents, -3.0);
    } else {
      n += *kinds::Get(p, mv::kN);
    }
    by_site[s] = ReadSiteValidation(p, false, std::nan(""));
  }
  const v1::Results::PooledValidation pooled = PoolValidation(by_site, false);
  EXPECT_EQ(pooled.n(), static_cast<int>(n));
  EXPECT_TRUE(std::isnan(pooled.events()));
}

// A site without a bootstrap SE for a metric is left out of that metric's
// meta-analysis; with one site left there is none, and the note says why.
TEST(ValidationPool, SitesWithoutABootstrapSeAreLeftOutOfTheMetaAnalysis) {
  std::map<std::string, SiteValidation> by_site;
  for (const char* s : {"A", "B", "C"}) {
    v1::Payload p = Answer("cox", s);
    if (std::string(s) != "A") {
      kinds::Put(&p, mv::kMetric, "uno_c_se_logit", std::nan(""));
    }
    if (std::string(s) == "C") kinds::Put(&p, mv::kMetric, "harrell_c_se_logit", 0.0);
    by_site[s] = ReadSiteValidation(p, true, models::kDefaultHorizonDays);
  }
  const v1::Results::PooledValidation pooled = PoolValidation(by_site, true);
  EXPECT_EQ(pooled.harrell_c_meta_k(), 2);
  EXPECT_EQ(pooled.auc_t_meta_k(), 3);
  EXPECT_TRUE(std::isnan(pooled.uno_c_meta()));
  EXPECT_NE(pooled.uno_c_meta_note().find("at least 2 sites"), std::string::npos)
      << pooled.uno_c_meta_note();
  EXPECT_FALSE(pooled.has_uno_c_meta_k());
}

// The curve aggregates travel with the metrics: a site's calibration bins,
// Kaplan-Meier groups and ROC are read from the same payload.
TEST(ValidationPool, ReadsTheCurvesOfTheSignedPayload) {
  const v1::Payload p = Answer("cox", "C");
  const SiteValidation sv = ReadSiteValidation(p, true, 1095);
  ASSERT_TRUE(sv.metrics.has_roc());
  EXPECT_EQ(sv.metrics.roc().time_dependent_t(), 1095);
  EXPECT_EQ(sv.metrics.roc().n_pos(),
            *kinds::GetOne(p, mv::kCurve, std::string(mv::curve::kRoc) + mv::curve::kNPos));
  const SiteValidation logistic = ReadSiteValidation(Answer("logistic", "C"), false, std::nan(""));
  ASSERT_TRUE(logistic.metrics.has_roc());
  EXPECT_FALSE(logistic.metrics.roc().has_time_dependent_t());
}

}  // namespace
}  // namespace fedrad::rounds
