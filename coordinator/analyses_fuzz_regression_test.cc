// The inputs of tests/fuzz/fuzz_coordinator_result that found bugs in the
// analyses, replayed through the same StudyContext and study
// (tests/fuzz/fixtures/study.textproto): each input is the sites' answers in
// the order the study asks (a fedrad.fuzz.CoordinatorScript: repeated
// field 1 of TaskResult messages, read here with protobuf's wire reader).
//   regression-crash-529b1086e11e: a site's models.prepare "n" = 2.4e40,
//     cast to int64_t (undefined behaviour);
//   regression-crash-b056a18e30f6: a cohort.counts count of 6.2e223,
//     converted to int64_t while copying (undefined behaviour).
// Now both are refused with DataLoss naming the site before a number is
// converted. Under the fuzz build's UBSan the old code aborts; here the
// statuses show the fix.
#include <map>
#include <string>
#include <vector>

#include "coordinator/analyses.h"
#include "coordinator/study_context.h"
#include "core/csv.h"
#include "gmock/gmock.h"
#include "google/protobuf/io/coded_stream.h"
#include "gtest/gtest.h"
#include "proto/textproto.h"

namespace fedrad::coordinator {
namespace {

using ::testing::HasSubstr;

std::vector<v1::TaskResult> ReadScript(const std::string& name) {
  auto bytes = ReadFileToString(std::string(FEDRAD_SOURCE_DIR) +
                                "/tests/fuzz/corpus/fuzz_coordinator_result/" + name);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  std::vector<v1::TaskResult> out;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes->data()),
                                            static_cast<int>(bytes->size()));
  while (uint32_t tag = in.ReadTag()) {
    EXPECT_EQ(tag, (1u << 3) | 2u);  // field 1, length-delimited
    uint32_t length = 0;
    std::string message;
    if (!in.ReadVarint32(&length) || !in.ReadString(&message, static_cast<int>(length))) break;
    out.emplace_back();
    EXPECT_TRUE(out.back().ParseFromString(message));
  }
  return out;
}

class ScriptedSites : public StudyHost {
 public:
  explicit ScriptedSites(std::vector<v1::TaskResult> results) : results_(std::move(results)) {}
  std::map<std::string, absl::StatusOr<v1::TaskResult>> Exchange(
      const std::map<std::string, v1::Task>& tasks, double) override {
    std::map<std::string, absl::StatusOr<v1::TaskResult>> out;
    for (const auto& [site, task] : tasks) {
      if (next_ >= results_.size()) {
        out.emplace(site, absl::DeadlineExceededError("no answer"));
        continue;
      }
      v1::TaskResult r = results_[next_++];
      r.set_task_id(task.task_id());
      r.set_study_id(task.study_id());
      out.emplace(site, std::move(r));
    }
    return out;
  }
  void OnSiteState(const std::string&, const std::string&) override {}
  void OnProgress(const std::string&, double, const std::string&) override {}
  bool Cancelled() const override { return false; }

 private:
  std::vector<v1::TaskResult> results_;
  size_t next_ = 0;
};

absl::Status Replay(const std::string& name) {
  v1::Study study;
  EXPECT_TRUE(ReadTextProto(std::string(FEDRAD_SOURCE_DIR) + "/tests/fuzz/fixtures/study.textproto",
                            &study)
                  .ok());
  ScriptedSites host(ReadScript(name));
  StudyContext ctx("fuzz", study, {"A", "B", "C"}, &host);
  return RunAnalyses(ctx);
}

TEST(AnalysesFuzzRegression, HonestAnswersCompleteTheStudy) {
  EXPECT_TRUE(Replay("honest_study").ok());
}

TEST(AnalysesFuzzRegression, CountPastInt64InCohortCountsIsDataLoss) {
  absl::Status s = Replay("regression-crash-b056a18e30f6");
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("malformed cohort.counts result"));
}

TEST(AnalysesFuzzRegression, PrepareCountPastInt64IsRefused) {
  absl::Status s = Replay("regression-crash-529b1086e11e");
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("malformed models.prepare result (n)"));
}

}  // namespace
}  // namespace fedrad::coordinator
