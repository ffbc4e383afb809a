// What tests/fuzz/fuzz_coordinator_result found in the analyses, replayed
// through the same StudyContext and study (tests/fuzz/fixtures/study.textproto)
// from the honest answers of its corpus (a fedrad.fuzz.CoordinatorScript:
// repeated field 1 of TaskResult messages, read with protobuf's wire
// reader), with the one value the fuzzer changed (its inputs are
// tests/fuzz/corpus/fuzz_coordinator_result/regression-*):
//   a site's models.prepare "n" = 2.4e40, cast to int64_t (undefined
//     behaviour);
//   a cohort.counts count of 6.2e223, converted to int64_t while copying.
// Both are now refused with DataLoss naming the site before a number is
// converted; before, the study went on with whatever the conversion gave.
#include <map>
#include <string>
#include <vector>

#include "coordinator/analyses.h"
#include "coordinator/study_context.h"
#include "core/csv.h"
#include "gmock/gmock.h"
#include "google/protobuf/io/coded_stream.h"
#include "gtest/gtest.h"
#include "absl/strings/str_split.h"
#include "proto/task_kinds.h"
#include "proto/textproto.h"

namespace fedrad::coordinator {
namespace {

using ::testing::HasSubstr;

// The corpus was written before the typed payloads (proto/task_kinds.h): a
// list output travelled as one string, comma- (or, for line lists, newline-)
// separated. Moves such a string into the payload's lists, as a site sends it
// now.
void UpgradeLists(v1::TaskResult* r) {
  const kinds::Kind* kind = kinds::FindKind(r->kind());
  if (kind == nullptr) return;
  v1::Payload* p = r->mutable_payload();
  for (const kinds::Field* f : kind->outputs) {
    if (f->type != kinds::FieldType::kList) continue;
    auto it = p->strings().find(f->name);
    if (it == p->strings().end()) continue;
    const std::string text = it->second;
    const char sep = text.find('\n') != std::string::npos ? '\n' : ',';
    v1::StringList& list = (*p->mutable_lists())[f->name];
    for (absl::string_view v : absl::StrSplit(text, sep, absl::SkipEmpty())) {
      list.add_values(std::string(v));
    }
    p->mutable_strings()->erase(f->name);
  }
}

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
    UpgradeLists(&out.back());
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

absl::Status Replay(std::vector<v1::TaskResult> results) {
  v1::Study study;
  EXPECT_TRUE(ReadTextProto(std::string(FEDRAD_SOURCE_DIR) + "/tests/fuzz/fixtures/study.textproto",
                            &study)
                  .ok());
  ScriptedSites host(std::move(results));
  StudyContext ctx("fuzz", study, {"A", "B", "C"}, &host);
  return RunAnalyses(ctx);
}

// The honest answers with the first value of the first array of the first
// `kind` result named `prefix` (or starting with it when it ends in '.') set
// to `value` (what the fuzzer's one-bit mutations did).
std::vector<v1::TaskResult> WithValue(const std::string& kind, const std::string& prefix,
                                      double value) {
  std::vector<v1::TaskResult> results = ReadScript("honest_study");
  for (v1::TaskResult& r : results) {
    if (r.kind() != kind) continue;
    for (v1::Array& a : *r.mutable_payload()->mutable_arrays()) {
      // "counts." is a prefix (counts.<column>); "n" a whole name.
      const bool match = prefix.back() == '.' ? a.name().rfind(prefix, 0) == 0 : a.name() == prefix;
      if (match && a.values_size() > 0) {
        a.set_values(0, value);
        return results;
      }
    }
  }
  ADD_FAILURE() << "no " << kind << " result with an array " << prefix << "*";
  return results;
}

TEST(AnalysesFuzzRegression, HonestAnswersCompleteTheStudy) {
  absl::Status s = Replay(ReadScript("honest_study"));
  EXPECT_TRUE(s.ok()) << s;
}

TEST(AnalysesFuzzRegression, CountPastInt64InCohortCountsIsDataLoss) {
  absl::Status s = Replay(WithValue("cohort.counts", "counts.", 6.19181e+223));
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("malformed cohort.counts result"));
}

TEST(AnalysesFuzzRegression, PrepareCountPastInt64IsDataLoss) {
  absl::Status s = Replay(WithValue("models.prepare", "n", 2.38198e+40));
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("malformed models.prepare result (n)"));
}

}  // namespace
}  // namespace fedrad::coordinator
