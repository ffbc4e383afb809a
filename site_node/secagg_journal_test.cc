#include "site_node/secagg_journal.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace fedrad::site {
namespace {

namespace fs = std::filesystem;

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("secagg-journal-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "secagg.journal").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  std::string path_;
};

TEST_F(JournalTest, AbsentFileAndKeyReadEmpty) {
  EXPECT_EQ(JournalGet(path_, "r/1/masked"), "");
  ASSERT_OK(JournalAppend(path_, {{"r/1/masked", "abc"}}));
  EXPECT_EQ(JournalGet(path_, "r/2/masked"), "");
}

TEST_F(JournalTest, LastRecordOfAKeyWinsAcrossAppends) {
  ASSERT_OK(JournalAppend(path_, {{"k", "one"}, {"other", std::string("\0\n\xff", 3)}}));
  EXPECT_EQ(JournalGet(path_, "k"), "one");
  ASSERT_OK(JournalAppend(path_, {{"k", "two"}}));
  EXPECT_EQ(JournalGet(path_, "k"), "two");
  EXPECT_EQ(JournalGet(path_, "other"), std::string("\0\n\xff", 3));
}

TEST_F(JournalTest, AFileReplacedBehindTheIndexIsReadAgain) {
  ASSERT_OK(JournalAppend(path_, {{"k", "old"}, {"gone", "x"}}));
  ASSERT_EQ(JournalGet(path_, "k"), "old");
  // Another file at the same path (a restored state folder): the index
  // must not keep what the old file said.
  const std::string fresh = (dir_ / "fresh").string();
  ASSERT_OK(JournalAppend(fresh, {{"k", "new"}}));
  fs::rename(fresh, path_);
  EXPECT_EQ(JournalGet(path_, "k"), "new");
  EXPECT_EQ(JournalGet(path_, "gone"), "");
  fs::remove(path_);
  EXPECT_EQ(JournalGet(path_, "k"), "");
}

TEST_F(JournalTest, APartialLastLineIsReadOnlyOnceComplete) {
  ASSERT_OK(JournalAppend(path_, {{"a", "1"}}));
  ASSERT_EQ(JournalGet(path_, "a"), "1");
  // hex("b") = 62, hex("2") = 32: the line is cut before its newline.
  { std::ofstream(path_, std::ios::app) << "62 3"; }
  EXPECT_EQ(JournalGet(path_, "b"), "");
  { std::ofstream(path_, std::ios::app) << "2\n"; }
  EXPECT_EQ(JournalGet(path_, "b"), "2");
  EXPECT_EQ(JournalGet(path_, "a"), "1");
}

TEST_F(JournalTest, AnUnwritableJournalIsAnErrorNamingIt) {
  const std::string bad = (dir_ / "missing-folder" / "secagg.journal").string();
  EXPECT_THAT(JournalAppend(bad, {{"k", "v"}}),
              fedrad::testing::StatusIs(absl::StatusCode::kInternal,
                                        ::testing::HasSubstr("missing-folder")));
}

}  // namespace
}  // namespace fedrad::site
