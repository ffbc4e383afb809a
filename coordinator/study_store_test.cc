// StudyStore: what is put survives closing and reopening the database (as
// after a coordinator restart), updates replace the row, and a file that is
// not a study store is refused naming it.
#include "coordinator/study_store.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fedrad::coordinator {
namespace {

using ::fedrad::testing::StatusIs;

using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::string TempPath(const std::string& name) {
  std::string dir = ::testing::TempDir() + "/study_store_" + std::to_string(getpid());
  fs::create_directories(dir);
  std::string path = dir + "/" + name;
  fs::remove(path);
  return path;
}

TEST(StudyStore, StudySurvivesReopenAndUpdatesReplaceTheRow) {
  std::string path = TempPath("a.db");
  {
    ASSERT_OK_AND_ASSIGN(auto store, StudyStore::Open(path));
    StoredStudy s;
    s.id = "cohort-1";
    s.name = "cohort";
    s.spec_text = "name: \"cohort\"\n";
    s.state = "RUNNING";
    s.sites = {"S1", "S2", "S3"};
    ASSERT_OK(store->Put(s));
    s.next_step = 2;
    s.rounds = 7;
    s.epoch = 1;
    s.results_json = R"({"cohort":{"pooled":{"n":55}}})";
    s.excluded_sites["S3"] = "no answer";
    ASSERT_OK(store->Put(s));
  }
  ASSERT_OK_AND_ASSIGN(auto store, StudyStore::Open(path));
  ASSERT_OK_AND_ASSIGN(auto all, store->List());
  ASSERT_EQ(all.size(), 1u);
  const StoredStudy& s = all[0];
  EXPECT_EQ(s.id, "cohort-1");
  EXPECT_EQ(s.state, "RUNNING");
  EXPECT_EQ(s.next_step, 2);
  EXPECT_EQ(s.rounds, 7);
  EXPECT_EQ(s.epoch, 1);
  EXPECT_EQ(s.results_json, R"({"cohort":{"pooled":{"n":55}}})");
  EXPECT_THAT(s.sites, ElementsAre("S1", "S2", "S3"));
  EXPECT_EQ(s.excluded_sites.at("S3"), "no answer");
  EXPECT_FALSE(s.submitted_at.empty());
  EXPECT_EQ(s.spec_text, "name: \"cohort\"\n");
  EXPECT_OK(store->Get("cohort-1"));
  auto missing = store->Get("nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST(StudyStore, RefusesAFileThatIsNotADatabaseNamingIt) {
  std::string path = TempPath("junk.db");
  std::ofstream(path) << "this is not sqlite, just some text long enough to be a header......\n";
  auto store = StudyStore::Open(path);
  ASSERT_THAT(store, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(path)));
}

}  // namespace
}  // namespace fedrad::coordinator
