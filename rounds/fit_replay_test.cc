// rounds/fit_replay.h: the replay of a federated fit from its transcript is
// the fit the coordinator computes (models::FitSpec with an evaluator that
// sums the sites' contributions), bit for bit; a transcript cut after k
// evaluations asks for exactly the coordinator's (k+1)-th evaluation; a
// contribution made at another beta is named. Data: the fixture cohort
// models/testdata/site_{A,B,C}.csv (three sites).
#include "rounds/fit_replay.h"

#include <cmath>
#include <map>

#include "absl/strings/str_join.h"
#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "core/status.h"
#include "models/cox.h"
#include "models/testutil.h"
#include "proto/payload.h"
#include "proto/task_kinds.h"
#include "site_node/model_spec.h"

namespace fedrad::rounds {
namespace {

using ::fedrad::testing::StatusIs;

namespace m = ::fedrad::models;

std::vector<double> Flat(const Eigen::MatrixXd& x) {
  std::vector<double> v;
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    for (Eigen::Index j = 0; j < x.cols(); ++j) v.push_back(x(i, j));
  }
  return v;
}
std::vector<double> Std(const Eigen::VectorXd& v) { return {v.data(), v.data() + v.size()}; }

v1::RoundMessage Message(const std::string& site, const std::string& round, const v1::Payload& released,
                         const std::vector<std::string>& summed, const v1::Payload& inputs) {
  v1::RoundMessage msg;
  msg.set_site(site);
  msg.set_round_id(round);
  *msg.mutable_contribution() = *MakeContribution(released, summed, inputs);
  return msg;
}

// A model over x1..x4 that exercises every step of FitSpec: standardised,
// ridge with lambda chosen by leave-one-site-out CV.
v1::Model CvModel() {
  v1::Model model;
  model.set_name("cox");
  model.set_type(v1::Model::COX);
  for (const auto& c : m::testing::Covariates()) model.add_covariates(c);
  model.set_standardize(true);
  model.mutable_penalty()->set_type(v1::Penalty::L2);
  for (double l : {0.5, 5.0}) model.mutable_penalty()->add_lambda_grid(l);
  return model;
}

// The coordinator's side: FitSpec over the three sites, each evaluation the
// sum of the sites' contributions; every contribution recorded as a message.
struct Federated {
  m::SpecFit fit;
  std::vector<v1::RoundMessage> messages;
  std::vector<Eigen::VectorXd> betas;  // of each evaluation
};

Federated RunFederated(const v1::Model& model) {
  Federated out;
  const std::vector<std::string>& sites = m::testing::SiteNames();
  std::map<std::string, m::ModelRows> rows;
  m::FitSpecInput in;
  in.candidates = m::testing::Covariates();
  in.sites = sites;
  in.pooled = m::CrossProducts::Zero(4);
  for (const auto& s : sites) {
    rows[s] = m::testing::SurvivalRows(s);
    const m::CrossProducts cp = m::ComputeCrossProducts(rows[s].x);
    int64_t events = 0;
    for (int e : rows[s].status) events += e;
    v1::Payload released, inputs;
    AddScalar(&released, "n", static_cast<double>(cp.n));
    AddScalar(&released, "events", static_cast<double>(events));
    AddVector(&released, "sum_x", Std(cp.sum));
    AddVector(&released, "sum_xx", Flat(cp.sum_outer));
    kinds::Put(&inputs, kinds::model_task::kCovariates, in.candidates);
    out.messages.push_back(Message(s, PrepareRound("cox"), released, {"n", "events", "sum_x", "sum_xx"}, inputs));
  }
  // The pooled inputs as the coordinator gets them: summed in site order.
  absl::StatusOr<Sums> prep = SumRound(out.messages);
  in.pooled.n = static_cast<int64_t>(prep->at("n")[0]);
  in.events = static_cast<int64_t>(prep->at("events")[0]);
  for (int i = 0; i < 4; ++i) {
    in.pooled.sum[i] = prep->at("sum_x")[static_cast<size_t>(i)];
    for (int j = 0; j < 4; ++j) in.pooled.sum_outer(i, j) = prep->at("sum_xx")[static_cast<size_t>(i * 4 + j)];
  }
  int k = 0;
  in.evaluate = [&](const std::vector<std::string>& covs, const m::Scaling* scaling,
                    const std::vector<std::string>& eval_sites,
                    const Eigen::VectorXd& beta) -> absl::StatusOr<m::Derivatives> {
    out.betas.push_back(beta);
    std::vector<v1::RoundMessage> round;
    for (const auto& s : eval_sites) {
      Eigen::MatrixXd x = rows[s].x;
      if (scaling != nullptr) {
        for (Eigen::Index j = 0; j < x.cols(); ++j) {
          x.col(j) = (x.col(j).array() - scaling->center[j]) / scaling->scale[j];
        }
      }
      auto stratum = m::CoxStratum::Create(rows[s].time, rows[s].status, x);
      const m::Derivatives d = m::CoxDerivatives(*stratum, beta, m::Ties::kBreslow);
      v1::Payload released, inputs;
      AddScalar(&released, "n", static_cast<double>(d.n));
      AddScalar(&released, "events", static_cast<double>(d.events));
      AddScalar(&released, "loglik", d.loglik);
      AddVector(&released, "gradient", Std(d.gradient));
      AddVector(&released, "information", Flat(d.information));
      AddVector(&inputs, "beta", Std(beta));
      if (scaling != nullptr) {
        AddVector(&inputs, "center", Std(scaling->center));
        AddVector(&inputs, "scale", Std(scaling->scale));
      }
      kinds::Put(&inputs, kinds::model_task::kCovariates, covs);
      round.push_back(Message(s, EvalRound("cox", kDevelopmentFit, k), released,
                              {"n", "events", "loglik", "gradient", "information"}, inputs));
    }
    ++k;
    out.messages.insert(out.messages.end(), round.begin(), round.end());
    FEDRAD_ASSIGN_OR_RETURN(Sums sums, SumRound(round));
    return DerivativesFromSums(sums, static_cast<int>(beta.size()));
  };
  absl::StatusOr<m::SpecFit> fit = m::FitSpec(FitSpecOptionsOf(model), in);
  EXPECT_OK(fit);
  out.fit = *fit;
  return out;
}

VerifiedTranscript Transcript(const std::vector<v1::RoundMessage>& messages, int evaluations) {
  VerifiedTranscript t;
  for (const v1::RoundMessage& msg : messages) {
    const std::string& r = msg.round_id();
    const size_t at = r.rfind('/');
    if (r.find("/eval/") != std::string::npos && std::stoi(r.substr(at + 1)) >= evaluations) continue;
    EXPECT_OK(t.Add(msg, "test"));
  }
  return t;
}

// Found by tests/fuzz/fuzz_coordinator_result: a round's summed n of
// 9.3e242 was cast to int64_t (undefined behaviour) when the coordinator
// read the derivatives.
TEST(ReplayFit, ASumThatIsNoCountIsDataLoss) {
  Sums sums = {{"loglik", {-1.0}},   {"n", {9.30278e+242}}, {"events", {3.0}},
               {"gradient", {0.5}}, {"information", {2.0}}};
  EXPECT_THAT(DerivativesFromSums(sums, 1), StatusIs(absl::StatusCode::kDataLoss));
  sums["n"] = {10.0};
  sums["events"] = {std::nan("")};
  EXPECT_THAT(DerivativesFromSums(sums, 1), StatusIs(absl::StatusCode::kDataLoss));
  sums["events"] = {3.0};
  auto d = DerivativesFromSums(sums, 1);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->n, 10);
  EXPECT_EQ(d->events, 3);
}

TEST(ReplayFit, TheCompleteTranscriptGivesTheCoordinatorsFitBitForBit) {
  const v1::Model model = CvModel();
  const Federated fed = RunFederated(model);
  ASSERT_GT(fed.betas.size(), 10u);  // CV over 2 lambdas and 3 folds, then the fit
  absl::StatusOr<FitReplay> r =
      ReplayFit(model, kDevelopmentFit, m::testing::SiteNames(), Transcript(fed.messages, 1 << 20));
  ASSERT_OK(r);
  ASSERT_TRUE(r->complete);
  EXPECT_EQ(r->evaluations, static_cast<int64_t>(fed.betas.size()));
  ASSERT_EQ(r->fit.beta.size(), fed.fit.beta.size());
  for (Eigen::Index j = 0; j < r->fit.beta.size(); ++j) EXPECT_EQ(r->fit.beta[j], fed.fit.beta[j]);
  EXPECT_EQ(r->fit.loglik, fed.fit.loglik);
  EXPECT_EQ(r->fit.lambda, fed.fit.lambda);
  ASSERT_OK_AND_ASSIGN(FrozenModel frozen,
                       FrozenFromTranscript(model, kDevelopmentFit, m::testing::SiteNames(), false,
                                            Transcript(fed.messages, 1 << 20)));
  EXPECT_EQ(frozen.beta, fed.fit.beta);
}

TEST(ReplayFit, ACutTranscriptAsksForTheCoordinatorsNextEvaluation) {
  const v1::Model model = CvModel();
  const Federated fed = RunFederated(model);
  for (int k : {0, 1, 5, static_cast<int>(fed.betas.size()) - 1}) {
    ASSERT_OK_AND_ASSIGN(FitReplay r, ReplayFit(model, kDevelopmentFit, m::testing::SiteNames(),
                                                Transcript(fed.messages, k)));
    ASSERT_FALSE(r.complete) << k;
    EXPECT_EQ(r.next.index, k);
    EXPECT_EQ(r.next.beta, fed.betas[static_cast<size_t>(k)]) << k;
  }
  // Without the prepare messages nothing can be replayed.
  EXPECT_THAT(ReplayFit(model, kDevelopmentFit, m::testing::SiteNames(), VerifiedTranscript()),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(ReplayFit, AContributionAtAnotherBetaIsNamed) {
  const v1::Model model = CvModel();
  Federated fed = RunFederated(model);
  for (v1::RoundMessage& msg : fed.messages) {
    if (msg.round_id() == EvalRound("cox", kDevelopmentFit, 2) && msg.site() == "B") {
      AddVector(msg.mutable_contribution()->mutable_inputs(), "beta", {9, 9, 9, 9});
    }
  }
  absl::StatusOr<FitReplay> r =
      ReplayFit(model, kDevelopmentFit, m::testing::SiteNames(), Transcript(fed.messages, 1 << 20));
  ASSERT_THAT(r, StatusIs(absl::StatusCode::kFailedPrecondition,
                          ::testing::HasSubstr("round 'models/cox/fit/dev/eval/2': site 'B'")));
}

}  // namespace
}  // namespace fedrad::rounds
