// Study approvals (approvals.h): approve, list, withdraw, expiry, and the
// canonical hash (the operator's textproto and the coordinator's Task.study
// hash the same; one changed field does not).
#include "site_node/approvals.h"

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/civil_time.h"
#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "proto/textproto.h"
#include "site_node/site_rules.h"

namespace fedrad::site {
namespace {

using ::fedrad::testing::StatusIs;

namespace fs = std::filesystem;

constexpr char kSpec[] = R"(name: "crlm-demo"
sites: "C1"
sites: "C2"
cohort_summary { enabled: true columns: "age" }
models { name: "cox" type: COX time_column: "time" event_column: "status"
         covariates: "age" covariates: "cea" }
)";

v1::Study Parse(const std::string& text) {
  v1::Study s;
  EXPECT_OK(ParseTextProto(text, "spec", &s));
  return s;
}

absl::Time Day(int y, int m, int d) {
  return absl::FromCivil(absl::CivilDay(y, m, d), absl::UTCTimeZone());
}

class Approvals : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("approvals_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    config_.set_state_dir((dir_ / "state").string());
    config_.set_id_column("patient_id");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // An audit writer that records what it was given; `held` makes it behave
  // as when the running site holds the audit log.
  AuditWriter Writer(std::vector<std::string>* records, bool held) {
    return [records, held](const std::string& kind, const std::string& summary,
                           const std::string& digest) -> absl::Status {
      if (held) return absl::FailedPreconditionError("audit log in use by another process");
      records->push_back(kind + "|" + digest + "|" + summary);
      return absl::OkStatus();
    };
  }

  fs::path dir_;
  v1::SiteConfig config_;
};

TEST(StudySpecHash, TextprotoAndCoordinatorFormHashTheSame) {
  const v1::Study from_file = Parse(kSpec);
  // What the coordinator sends: the same message after a trip over the wire.
  v1::Study on_the_wire;
  ASSERT_TRUE(on_the_wire.ParseFromString(from_file.SerializeAsString()));
  EXPECT_EQ(StudySpecHash(from_file), StudySpecHash(on_the_wire));
  EXPECT_EQ(StudySpecHash(from_file).size(), 64u);
  // Stable across a text round trip (the coordinator's stored spec).
  EXPECT_EQ(StudySpecHash(Parse(ToTextProto(from_file))), StudySpecHash(from_file));
}

TEST(StudySpecHash, NamelessSpecHashesAsTheCoordinatorNamesIt) {
  v1::Study nameless = Parse(kSpec);
  nameless.clear_name();
  v1::Study named = nameless;
  named.set_name("study");  // coordinator.cc SubmitStudy
  EXPECT_EQ(StudySpecHash(nameless), StudySpecHash(named));
}

TEST(StudySpecHash, OneChangedFieldChangesTheHash) {
  const v1::Study spec = Parse(kSpec);
  v1::Study changed = spec;
  changed.mutable_models(0)->add_event_values("1");
  EXPECT_NE(StudySpecHash(spec), StudySpecHash(changed));
  changed = spec;
  changed.set_min_cell_count(5);
  EXPECT_NE(StudySpecHash(spec), StudySpecHash(changed));
  changed = spec;
  changed.mutable_cohort_summary()->set_column_regex("^a");
  EXPECT_NE(StudySpecHash(spec), StudySpecHash(changed));
}

TEST(CheckNoUnknownFields, RefusesASpecWithAFieldThisSoftwareDoesNotKnow) {
  v1::Study spec = Parse(kSpec);
  EXPECT_OK(CheckNoUnknownFields(spec));
  // Field 999 (varint 7) appended inside models[0].
  std::string bytes = spec.models(0).SerializeAsString() + std::string("\xb8\x3e\x07", 3);
  ASSERT_TRUE(spec.mutable_models(0)->ParseFromString(bytes));
  absl::Status s = CheckNoUnknownFields(spec);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(IsPublic(s));
  EXPECT_TRUE(absl::StrContains(s.message(), "fedrad.v1.Model")) << s;
}

TEST_F(Approvals, ApproveListWithdraw) {
  const v1::Study spec = Parse(kSpec);
  const std::string hash = StudySpecHash(spec);
  std::vector<std::string> records;
  ApproveOptions options;
  options.expires = "2030-06-30";
  options.note = "ethics ref 2026-114";
  options.approved_by = "op";
  ASSERT_OK_AND_ASSIGN(
      auto out, ApproveStudy(config_, spec, options, Writer(&records, false), Day(2026, 1, 1)));
  EXPECT_TRUE(absl::StrContains(out, "crlm-demo")) << out;
  EXPECT_TRUE(absl::StrContains(out, hash)) << out;
  EXPECT_TRUE(absl::StrContains(out, "2030-06-30")) << out;
  ASSERT_EQ(records.size(), 1u);
  EXPECT_TRUE(absl::StartsWith(records[0], "site.approve|" + hash + "|")) << records[0];
  EXPECT_TRUE(absl::StrContains(records[0], "ethics ref 2026-114"));

  auto all = ReadApprovals(config_.state_dir());
  ASSERT_OK(all);
  ASSERT_EQ(all->approvals_size(), 1);
  EXPECT_TRUE(all->approvals(0).audited());
  EXPECT_OK(CheckApproved(*all, "C2", "crlm-demo", hash, Day(2027, 1, 1)));
  // Valid through the last day, not after.
  EXPECT_OK(CheckApproved(*all, "C2", "crlm-demo", hash, Day(2030, 6, 30) + absl::Hours(23)));
  absl::Status expired = CheckApproved(*all, "C2", "crlm-demo", hash, Day(2030, 7, 1));
  EXPECT_EQ(expired.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(expired.message(), "expired on 2030-06-30")) << expired;

  auto listed = ListApprovals(config_, Day(2027, 1, 1));
  ASSERT_OK(listed);
  EXPECT_TRUE(absl::StrContains(*listed, "crlm-demo\t" + hash)) << *listed;
  EXPECT_TRUE(absl::StrContains(*listed, "in force")) << *listed;

  // Withdraw by a hash prefix of 8 digits; 7 are not enough.
  EXPECT_THAT(
      WithdrawApproval(config_, hash.substr(0, 7), Writer(&records, false), Day(2027, 1, 1)),
      StatusIs(absl::StatusCode::kNotFound));
  auto w = WithdrawApproval(config_, hash.substr(0, 8), Writer(&records, false), Day(2027, 1, 2));
  ASSERT_OK(w);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_TRUE(absl::StartsWith(records[1], "site.withdraw|" + hash + "|")) << records[1];
  all = ReadApprovals(config_.state_dir());
  absl::Status withdrawn = CheckApproved(*all, "C2", "crlm-demo", hash, Day(2027, 1, 3));
  EXPECT_EQ(withdrawn.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(withdrawn.message(), "withdrawn on 2027-01-02")) << withdrawn;
  listed = ListApprovals(config_, Day(2027, 1, 3));
  EXPECT_TRUE(absl::StrContains(*listed, "withdrawn 2027-01-02")) << *listed;
}

TEST_F(Approvals, RefusalHasTheExactPublicShape) {
  const v1::Study spec = Parse(kSpec);
  const std::string hash = StudySpecHash(spec);
  absl::Status s = CheckApproved(v1::StudyApprovals(), "C2", "crlm-demo", hash, Day(2027, 1, 1));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(IsPublic(s));
  EXPECT_EQ(s.message(), "C2 has not approved study crlm-demo (spec sha256 " + hash.substr(0, 8) +
                             "\xE2\x80\xA6)");
}

TEST_F(Approvals, ASpecChangedByOneFieldIsNotApproved) {
  const v1::Study spec = Parse(kSpec);
  std::vector<std::string> records;
  ASSERT_OK(ApproveStudy(config_, spec, {}, Writer(&records, false), Day(2026, 1, 1)));
  v1::Study changed = spec;
  changed.mutable_models(0)->set_time_column("age2");
  ApprovalWatcher watcher(config_.state_dir(), nullptr);
  ASSERT_OK(watcher.Refresh());
  EXPECT_OK(watcher.Check("C2", spec, Day(2026, 6, 1)));
  absl::Status s = watcher.Check("C2", changed, Day(2026, 6, 1));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StartsWith(s.message(), "C2 has not approved study crlm-demo (spec sha256 "));
  // The default expiry: one year.
  EXPECT_OK(watcher.Check("C2", spec, Day(2026, 12, 31)));
  EXPECT_THAT(watcher.Check("C2", spec, Day(2027, 1, 2)),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(Approvals, RunningSiteAuditsWhatTheCommandCouldNotAndOnlyOnce) {
  const v1::Study spec = Parse(kSpec);
  std::vector<std::string> command_records;
  // The site holds the audit log: the command records the approval only.
  auto out = ApproveStudy(config_, spec, {}, Writer(&command_records, true), Day(2026, 1, 1));
  ASSERT_OK(out);
  EXPECT_TRUE(command_records.empty());
  EXPECT_TRUE(absl::StrContains(*out, "the site is running")) << *out;

  std::vector<std::string> site_records;
  ApprovalWatcher watcher(config_.state_dir(), [&](const v1::StudyApproval& a, bool withdrawal) {
    site_records.push_back((withdrawal ? "withdraw " : "approve ") + a.spec_sha256());
  });
  ASSERT_OK(watcher.Refresh());
  ASSERT_EQ(site_records.size(), 1u);
  EXPECT_EQ(site_records[0], "approve " + StudySpecHash(spec));
  EXPECT_OK(watcher.Check("C2", spec, Day(2026, 2, 1)));
  ASSERT_OK(watcher.Refresh());  // unchanged: nothing new
  EXPECT_EQ(site_records.size(), 1u);

  // A withdrawal while the site runs: seen at the next refresh, audited once.
  ASSERT_OK(
      WithdrawApproval(config_, "crlm-demo", Writer(&command_records, true), Day(2026, 2, 2)));
  ASSERT_OK(watcher.Refresh());
  ASSERT_EQ(site_records.size(), 2u);
  EXPECT_EQ(site_records[1], "withdraw " + StudySpecHash(spec));
  EXPECT_THAT(watcher.Check("C2", spec, Day(2026, 2, 3)),
              StatusIs(absl::StatusCode::kPermissionDenied));
  ASSERT_OK(watcher.Refresh());
  EXPECT_EQ(site_records.size(), 2u);
  // A second watcher (the site restarted) finds everything audited.
  ApprovalWatcher again(config_.state_dir(), [&](const v1::StudyApproval&, bool) {
    site_records.push_back("again");
  });
  ASSERT_OK(again.Refresh());
  EXPECT_EQ(site_records.size(), 2u);
}

TEST_F(Approvals, RefusesToApproveASpecTheSiteWouldRefuse) {
  v1::Study spec = Parse(kSpec);
  spec.mutable_models(0)->add_covariates("time");  // the time column as a covariate
  auto out = ApproveStudy(config_, spec, {}, nullptr, Day(2026, 1, 1));
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(out.status().message(), "model 'cox'")) << out.status();
  EXPECT_FALSE(fs::exists(ApprovalsPath(config_.state_dir())));
  ApproveOptions past;
  past.expires = "2020-01-01";
  EXPECT_THAT(ApproveStudy(config_, Parse(kSpec), past, nullptr, Day(2026, 1, 1)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  past.expires = "2026-13-01";
  EXPECT_THAT(ApproveStudy(config_, Parse(kSpec), past, nullptr, Day(2026, 1, 1)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace fedrad::site
