// Exhaustive tamper tests of VerifyLog: on a small closed log (open, 6 events,
// two checkpoints, close = 10 records) every single-byte change, every single
// record deletion, every adjacent swap and every truncation (at each record
// boundary and at every offset inside a line) must be detected and named.
//
// (Lives in core/ because tests/ belongs to the integration-test owner.)
#include <string>
#include <vector>

#include "core/audit_log.h"
#include "core/audit_testutil.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fedrad::audit {
namespace {

using ::testing::HasSubstr;

class AuditTamperTest : public testing::AuditFixture {
 protected:
  void SetUp() override {
    AuditFixture::SetUp();
    AuditLogOptions o = SiteOptions("good.jsonl");
    o.checkpoint_every = 3;
    {
      ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(o));
      const char* kinds[] = {"cohort.summary", "combat.moments", "cox.gradient"};
      for (int i = 0; i < 6; ++i) {
        AuditEvent e =
            Event(i % 2 == 0 ? Direction::kReceived : Direction::kSent,
                  "task-" + std::to_string(i / 2), "coordinator", "payload " + std::to_string(i));
        e.kind = kinds[i / 2];
        ASSERT_OK(log->Append(e));
      }
      ASSERT_OK(log->Close());
    }
    good_ = ReadAll(Path("good.jsonl"));
    lines_ = Lines(good_);
    // open, 3 events, checkpoint, 3 events, checkpoint, close
    ASSERT_EQ(lines_.size(), 10u);
    ASSERT_OK_AND_ASSIGN(auto report, VerifyLog(Path("good.jsonl")));
    ASSERT_TRUE(report.ok);
  }

  // Verifies `text` as a log (in memory: the same code VerifyLog runs on a
  // file's contents, without thousands of file writes).
  static VerifyReport Verify(const std::string& text) { return VerifyLogText(text, {}); }
  static bool NamesALine(const VerifyReport& r) {
    for (const auto& p : r.problems) {
      if (p.find("line ") != std::string::npos) return true;
    }
    return false;
  }

  std::string good_;
  std::vector<std::string> lines_;
};

TEST_F(AuditTamperTest, EverySingleByteChangeIsDetected) {
  // Two different flips per byte: the lowest bit (a neighbouring character,
  // keeps ASCII) and the high bit (makes invalid UTF-8).
  int checked = 0;
  for (unsigned char mask : {0x01, 0x80}) {
    for (size_t i = 0; i < good_.size(); ++i) {
      std::string bad = good_;
      bad[i] = static_cast<char>(bad[i] ^ mask);
      VerifyReport r = Verify(bad);
      ASSERT_FALSE(r.ok) << "flipping byte " << i << " with mask " << int(mask)
                         << " went undetected";
      ASSERT_TRUE(NamesALine(r)) << "byte " << i;
      ++checked;
    }
  }
  EXPECT_EQ(checked, static_cast<int>(2 * good_.size()));
}

TEST_F(AuditTamperTest, EveryRecordDeletionIsDetected) {
  for (size_t k = 0; k < lines_.size(); ++k) {
    std::vector<std::string> cut = lines_;
    cut.erase(cut.begin() + static_cast<long>(k));
    VerifyReport r = Verify(Join(cut));
    ASSERT_FALSE(r.ok) << "deleting record " << k << " went undetected";
    ASSERT_TRUE(NamesALine(r));
    if (k > 0 && k + 1 < lines_.size()) {
      // The gap is named where the chain breaks: the next record, now at
      // line k+1, carrying seq k+1.
      EXPECT_THAT(r.problems[0], HasSubstr("line " + std::to_string(k + 1) + " (seq " +
                                           std::to_string(k + 1) + ")"));
    }
  }
}

TEST_F(AuditTamperTest, EveryAdjacentSwapIsDetected) {
  for (size_t k = 0; k + 1 < lines_.size(); ++k) {
    std::vector<std::string> swapped = lines_;
    std::swap(swapped[k], swapped[k + 1]);
    VerifyReport r = Verify(Join(swapped));
    ASSERT_FALSE(r.ok) << "swapping records " << k << " and " << k + 1 << " went undetected";
    EXPECT_THAT(r.problems[0], HasSubstr("line " + std::to_string(k + 1)));
  }
}

TEST_F(AuditTamperTest, TruncationAtEveryRecordBoundaryIsDetected) {
  std::string prefix;
  for (size_t k = 0; k < lines_.size(); ++k) {
    // The first k records, each complete (k = 0: an empty file).
    VerifyReport r = Verify(prefix);
    ASSERT_FALSE(r.ok) << "truncation after " << k << " records went undetected";
    if (k > 0) {
      EXPECT_THAT(r.problems.back(), HasSubstr("does not end with a close record"));
    }
    prefix += lines_[k];
  }
  EXPECT_EQ(prefix, good_);
}

TEST_F(AuditTamperTest, TruncationInsideEveryLineIsDetectedAsMalformed) {
  size_t start = 0;
  for (size_t k = 0; k < lines_.size(); ++k) {
    // Every cut strictly inside line k (after at least one of its bytes; the
    // cut just before the newline is included).
    for (size_t len = 1; len < lines_[k].size(); ++len) {
      VerifyReport r = Verify(good_.substr(0, start + len));
      ASSERT_FALSE(r.ok) << "cut at byte " << start + len << " went undetected";
      ASSERT_THAT(r.problems[0], HasSubstr("line " + std::to_string(k + 1) + ": truncated"));
    }
    start += lines_[k].size();
  }
}

TEST_F(AuditTamperTest, UntouchedCopyStillVerifiesAndAFileCopyTooButNotAFlippedFile) {
  EXPECT_TRUE(Verify(good_).ok);
  WriteAll(Path("copy.jsonl"), good_);
  ASSERT_OK_AND_ASSIGN(auto copy, VerifyLog(Path("copy.jsonl")));
  EXPECT_TRUE(copy.ok);
  std::string bad = good_;
  bad[good_.size() / 2] ^= 0x01;
  WriteAll(Path("copy.jsonl"), bad);
  ASSERT_OK_AND_ASSIGN(auto flipped, VerifyLog(Path("copy.jsonl")));
  EXPECT_FALSE(flipped.ok);
}

}  // namespace
}  // namespace fedrad::audit
