// Tests of the audit log writer, verifier and cross-check (core/audit_log.h).
#include "core/audit_log.h"

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/audit_testutil.h"
#include "core/hash.h"
#include "core/pki.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fedrad::audit {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class AuditLogTest : public testing::AuditFixture {};

std::string AllProblems(const VerifyReport& r) {
  std::string out;
  for (const auto& p : r.problems) out += p + "\n";
  return out;
}

TEST_F(AuditLogTest, WritesOpenEventsCheckpointsCloseThatVerify) {
  AuditLogOptions o = SiteOptions("a.jsonl");
  o.checkpoint_every = 3;
  {
    ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(o));
    for (int i = 0; i < 7; ++i) {
      ASSERT_OK(log->Append(Event(Direction::kSent, "t" + std::to_string(i), "coordinator", "p")));
    }
    ASSERT_OK(log->Close());
    EXPECT_OK(log->Close());  // idempotent
  }
  ASSERT_OK_AND_ASSIGN(auto report, VerifyLog(Path("a.jsonl"), Path("ca/ca.crt")));
  EXPECT_TRUE(report.ok) << AllProblems(report);
  // open + 7 events + 2 checkpoints (after events 3 and 6) + close.
  EXPECT_EQ(report.records, 11);
  EXPECT_EQ(report.signed_records, 4);
  EXPECT_TRUE(report.closed);
  EXPECT_EQ(report.sessions, 1);
  EXPECT_EQ(report.unsigned_tail, 0);
  EXPECT_THAT(report.signers, Contains(HasSubstr("S1 (site, serial")));

  ASSERT_OK_AND_ASSIGN(auto records, ReadRecords(Path("a.jsonl")));
  ASSERT_EQ(records.size(), 11u);
  EXPECT_EQ(records[0].type, "open");
  EXPECT_EQ(records[0].prev, std::string(64, '0'));
  EXPECT_THAT(records[0].cert, HasSubstr("BEGIN CERTIFICATE"));
  EXPECT_EQ(records[1].direction, "sent");
  EXPECT_EQ(records[1].peer, "coordinator");
  EXPECT_EQ(records[1].payload_sha256, Sha256Hex("p"));
  EXPECT_EQ(records[4].type, "checkpoint");
  EXPECT_EQ(records.back().type, "close");
  EXPECT_EQ(records.back().hash, report.head_hash);
  for (size_t i = 1; i < records.size(); ++i) {
    EXPECT_EQ(records[i].prev, records[i - 1].hash);
    EXPECT_EQ(records[i].seq, static_cast<int64_t>(i));
  }
}

TEST_F(AuditLogTest, RecordHashFollowsTheDocumentedRule) {
  {
    ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(SiteOptions("a.jsonl")));
    ASSERT_OK(log->Append(Event(Direction::kReceived, "t1", "coordinator", "x")));
  }
  // hash = SHA-256 of the compact JSON without "hash" (header comment).
  for (const std::string& line : Lines(ReadAll(Path("a.jsonl")))) {
    auto j = nlohmann::ordered_json::parse(line);
    std::string hash = j["hash"];
    j.erase("hash");
    EXPECT_EQ(Sha256Hex(j.dump()), hash);
  }
}

TEST_F(AuditLogTest, ReopeningContinuesTheChainAcrossSessions) {
  {
    ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(SiteOptions("a.jsonl")));
    ASSERT_OK(log->Append(Event(Direction::kReceived, "t1", "coordinator", "a")));
  }
  std::string head;
  {
    ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(SiteOptions("a.jsonl")));
    EXPECT_EQ(log->next_seq(), 4);  // open, event, close, new open
    ASSERT_OK(log->Append(Event(Direction::kSent, "t1", "coordinator", "b")));
    ASSERT_OK(log->Close());
    head = log->head_hash();
  }
  ASSERT_OK_AND_ASSIGN(auto report, VerifyLog(Path("a.jsonl")));
  EXPECT_TRUE(report.ok) << AllProblems(report);
  EXPECT_EQ(report.sessions, 2);
  EXPECT_EQ(report.records, 6);
  EXPECT_EQ(report.head_hash, head);
  ASSERT_OK_AND_ASSIGN(auto records, ReadRecords(Path("a.jsonl")));
  EXPECT_THAT(records[3].summary, HasSubstr("continues after a clean close at seq 2"));
}

TEST_F(AuditLogTest, UncleanStopIsNotedAndTheRestartSignsTheOrphanedRecords) {
  {
    ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(SiteOptions("a.jsonl")));
    ASSERT_OK(log->Append(Event(Direction::kReceived, "t1", "coordinator", "a")));
    ASSERT_OK(log->Append(Event(Direction::kSent, "t1", "coordinator", "b")));
  }
  // A crash leaves no close record: drop it.
  auto lines = Lines(ReadAll(Path("a.jsonl")));
  lines.pop_back();
  WriteAll(Path("a.jsonl"), Join(lines));
  {
    auto log = AuditLog::Open(SiteOptions("a.jsonl"));
    ASSERT_OK(log);
  }
  ASSERT_OK_AND_ASSIGN(auto report, VerifyLog(Path("a.jsonl")));
  EXPECT_TRUE(report.ok) << AllProblems(report);
  EXPECT_THAT(report.notes, Contains(HasSubstr("unclean stop")));
}

TEST_F(AuditLogTest, LogWithoutCloseFailsUnlessLiveAndCountsTheUnsignedTail) {
  AuditLogOptions o = SiteOptions("live.jsonl");
  o.checkpoint_every = 3;
  ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(o));
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(log->Append(Event(Direction::kSent, "t", "coordinator", "p")));
  }
  // Still running: open(0) e e e checkpoint(4) e e.
  auto strict = VerifyLog(Path("live.jsonl"));
  ASSERT_OK(strict);
  EXPECT_FALSE(strict->ok);
  EXPECT_THAT(AllProblems(*strict),
              AllOf(HasSubstr("does not end with a close record"), HasSubstr("--live")));
  VerifyOptions live;
  live.live = true;
  ASSERT_OK_AND_ASSIGN(auto relaxed, VerifyLog(Path("live.jsonl"), live));
  EXPECT_TRUE(relaxed.ok) << AllProblems(relaxed);
  EXPECT_EQ(relaxed.unsigned_tail, 2);
  EXPECT_EQ(relaxed.last_signed_seq, 4);
  EXPECT_THAT(relaxed.notes,
              Contains(HasSubstr("2 record(s) follow the last signed record (seq 4)")));
  ASSERT_OK(log->Close());
  ASSERT_OK_AND_ASSIGN(auto closed, VerifyLog(Path("live.jsonl")));
  EXPECT_TRUE(closed.ok) << AllProblems(closed);
}

TEST_F(AuditLogTest, OpenRefusesAKeyThatDoesNotMatchTheCertificate) {
  AuditLogOptions o = SiteOptions("a.jsonl");
  o.key_path = Path("coordinator.key");
  auto log = AuditLog::Open(o);
  EXPECT_EQ(log.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(log.status().message()),
              AllOf(HasSubstr("coordinator.key"), HasSubstr("S1.crt")));
  o = SiteOptions("a.jsonl");
  o.key_path = Path("missing.key");
  EXPECT_EQ(AuditLog::Open(o).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(AuditLogTest, OpenRefusesADamagedLogAndASecondWriter) {
  {
    ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(SiteOptions("a.jsonl")));
    ASSERT_OK(log->Append(Event(Direction::kSent, "t", "coordinator", "p")));
    // A second writer on the same file is refused while the first holds it.
    auto second = AuditLog::Open(SiteOptions("a.jsonl"));
    EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(second.status().message()), HasSubstr("in use"));
  }
  std::string text = ReadAll(Path("a.jsonl"));
  size_t at = text.find("cohort summary");
  ASSERT_NE(at, std::string::npos);
  text[at] = 'C';
  WriteAll(Path("a.jsonl"), text);
  std::string before = ReadAll(Path("a.jsonl"));
  auto reopened = AuditLog::Open(SiteOptions("a.jsonl"));
  EXPECT_EQ(reopened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(reopened.status().message()),
              AllOf(HasSubstr("a.jsonl"), HasSubstr("line 2 (seq 1)")));
  EXPECT_EQ(ReadAll(Path("a.jsonl")), before);  // nothing appended
}

TEST_F(AuditLogTest, AppendRejectsBadDigestsAndWritesAfterClose) {
  ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(SiteOptions("a.jsonl")));
  AuditEvent bad = Event(Direction::kSent, "t", "coordinator", "p");
  bad.payload_sha256 = "abc";
  EXPECT_EQ(log->Append(bad).code(), absl::StatusCode::kInvalidArgument);
  bad.payload_sha256 = "";
  EXPECT_EQ(log->Append(bad).code(), absl::StatusCode::kInvalidArgument);
  AuditEvent decision = bad;
  decision.direction = Direction::kDecision;
  EXPECT_OK(log->Append(decision));  // decisions may have no payload
  ASSERT_OK(log->Close());
  EXPECT_EQ(log->Append(Event(Direction::kSent, "t", "c", "p")).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(log->Checkpoint().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(AuditLogTest, ConcurrentAppendsKeepTheChainWhole) {
  AuditLogOptions o = SiteOptions("mt.jsonl");
  o.checkpoint_every = 7;
  {
    ASSERT_OK_AND_ASSIGN(auto opened, AuditLog::Open(o));
    AuditLog* log = opened.get();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([log, t]() {
        for (int i = 0; i < 50; ++i) {
          EXPECT_OK(log->Append(AuditFixture::Event(
              Direction::kSent, std::to_string(t) + "/" + std::to_string(i), "coordinator", "p")));
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  ASSERT_OK_AND_ASSIGN(auto report, VerifyLog(Path("mt.jsonl")));
  EXPECT_TRUE(report.ok) << AllProblems(report);
  // open + 200 events + 28 checkpoints (every 7) + close.
  EXPECT_EQ(report.records, 1 + 200 + 28 + 1);
}

TEST_F(AuditLogTest, InvalidUtf8InASummaryIsStoredReplacedAndStillVerifies) {
  {
    ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(SiteOptions("a.jsonl")));
    AuditEvent e = Event(Direction::kDecision, "t", "coordinator", "p");
    e.summary = std::string("bad \xff\xfe bytes, quote \" and newline \n here");
    ASSERT_OK(log->Append(e));
    // Valid UTF-8 beyond ASCII, a replacement character of its own, control
    // characters, a backslash and a long base64-like run (the shape of a
    // signed round message) are kept as written and hash the same way.
    e.summary = std::string("Gen\xc3\xa8ve \xe6\x97\xa5 \xef\xbf\xbd \x01\x1f\t\\ ") +
                std::string(30000, 'A') + "+/=";
    ASSERT_OK(log->Append(e));
  }
  ASSERT_OK_AND_ASSIGN(auto report, VerifyLog(Path("a.jsonl")));
  EXPECT_TRUE(report.ok) << AllProblems(report);
}

TEST_F(AuditLogTest, SummariesAreWrittenAsTheCanonicalDumpOfTheirRecord) {
  // The writer puts the summary into the record's text itself; a field that
  // looks like the record's own structure must not move it.
  const std::string structural = "\"summary\":\"\",\"prev\":\"x\"";
  const std::vector<std::string> summaries = {
      "", std::string(50000, 'Q') + "==", structural, "tab\there \x7f del", "caf\xc3\xa9"};
  {
    auto log = AuditLog::Open(SiteOptions("a.jsonl"));
    ASSERT_OK(log);
    for (const std::string& summary : summaries) {
      AuditEvent e = Event(Direction::kDecision, structural, structural, "p");
      e.summary = summary;
      ASSERT_OK((*log)->Append(e));
    }
  }
  std::vector<std::string> read;
  for (const std::string& line : Lines(ReadAll(Path("a.jsonl")))) {
    auto j = nlohmann::ordered_json::parse(line);
    // What a reader dumps again is byte for byte what was written.
    EXPECT_EQ(j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n", line);
    if (j["type"] == "event") {
      EXPECT_EQ(j["task"], structural);
      read.push_back(j["summary"]);
    }
  }
  EXPECT_EQ(read, summaries);
  auto report = VerifyLog(Path("a.jsonl"));
  ASSERT_OK(report);
  EXPECT_TRUE(report->ok) << AllProblems(*report);
}

TEST_F(AuditLogTest, SignatureByADifferentKeyIsDetected) {
  {
    ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(SiteOptions("a.jsonl")));
    ASSERT_OK(log->Append(Event(Direction::kSent, "t", "coordinator", "p")));
  }
  // Re-sign the close record with the coordinator's key and fix its hash, as
  // a forger who knows the format but not the site's key would.
  auto lines = Lines(ReadAll(Path("a.jsonl")));
  auto j = nlohmann::ordered_json::parse(lines.back());
  j.erase("hash");
  j.erase("signature");
  ASSERT_OK_AND_ASSIGN(auto sig,
                       pki::SignWithKey(Path("coordinator.key"), "fedrad-audit-v1\n" + j.dump()));
  j["signature"] = sig;
  j["hash"] = Sha256Hex(j.dump());
  lines.back() = j.dump() + "\n";
  WriteAll(Path("a.jsonl"), Join(lines));

  ASSERT_OK_AND_ASSIGN(auto report, VerifyLog(Path("a.jsonl")));
  EXPECT_FALSE(report.ok);
  ASSERT_EQ(report.problems.size(), 1u) << AllProblems(report);
  EXPECT_THAT(report.problems[0],
              AllOf(HasSubstr("line 3 (seq 2)"), HasSubstr("signature does not verify")));
}

TEST_F(AuditLogTest, CaCheckRejectsALogSignedByAnotherCasIdentity) {
  AuditLogOptions o = SiteOptions("x.jsonl");
  o.key_path = Path("other/X1.key");
  o.cert_path = Path("other/X1.crt");
  {
    auto log = AuditLog::Open(o);
    ASSERT_OK(log);
  }
  // Internally consistent, so fine without a CA ...
  auto alone = VerifyLog(Path("x.jsonl"));
  ASSERT_OK(alone);
  EXPECT_TRUE(alone->ok) << AllProblems(*alone);
  // ... but not trusted by this study's CA.
  auto with_ca = VerifyLog(Path("x.jsonl"), Path("ca/ca.crt"));
  ASSERT_OK(with_ca);
  EXPECT_FALSE(with_ca->ok);
  EXPECT_THAT(AllProblems(*with_ca),
              AllOf(HasSubstr("line 1 (seq 0)"), HasSubstr("not issued by this study's CA")));
}

TEST_F(AuditLogTest, VerifyReportsMissingFilesAsNotFound) {
  EXPECT_EQ(VerifyLog(Path("none.jsonl")).status().code(), absl::StatusCode::kNotFound);
  WriteAll(Path("empty.jsonl"), "");
  ASSERT_OK_AND_ASSIGN(auto empty, VerifyLog(Path("empty.jsonl")));
  EXPECT_FALSE(empty.ok);
  EXPECT_EQ(CrossCheck(Path("none.jsonl"), Path("empty.jsonl")).status().code(),
            absl::StatusCode::kNotFound);
}

// --- cross-check ---------------------------------------------------------------------

class CrossCheckTest : public testing::AuditFixture {
 protected:
  // Writes a site log and a coordinator log of the same two-task exchange;
  // `mutate` may alter the coordinator's events before they are appended.
  void WriteExchange(const std::function<void(std::vector<AuditEvent>*)>& mutate_coordinator) {
    std::vector<AuditEvent> site = {
        Event(Direction::kReceived, "t1", "coordinator", "task-1"),
        Event(Direction::kDecision, "t1", "coordinator", "policy ok"),
        Event(Direction::kSent, "t1", "coordinator", "result-1"),
        Event(Direction::kReceived, "t2", "coordinator", "task-2"),
        Event(Direction::kSent, "t2", "coordinator", "result-2"),
    };
    std::vector<AuditEvent> coordinator = {
        Event(Direction::kSent, "t1", "S1", "task-1"),
        Event(Direction::kReceived, "t1", "S1", "result-1"),
        Event(Direction::kSent, "t2", "S1", "task-2"),
        Event(Direction::kReceived, "t2", "S1", "result-2"),
        // Traffic with another site is not this site's business.
        Event(Direction::kSent, "t1", "S2", "task-1-for-S2"),
    };
    if (mutate_coordinator) mutate_coordinator(&coordinator);
    auto s = AuditLog::Open(SiteOptions("site.jsonl"));
    auto c = AuditLog::Open(CoordinatorOptions("coord.jsonl"));
    ASSERT_OK(s);
    ASSERT_OK(c);
    for (const auto& e : site) ASSERT_OK((*s)->Append(e));
    for (const auto& e : coordinator) ASSERT_OK((*c)->Append(e));
  }
  static std::string All(const CrossCheckReport& r) {
    std::string out;
    for (const auto& p : r.problems) out += p + "\n";
    return out;
  }
};

TEST_F(CrossCheckTest, MatchingLogsPass) {
  WriteExchange(nullptr);
  ASSERT_OK_AND_ASSIGN(auto report, CrossCheck(Path("site.jsonl"), Path("coord.jsonl")));
  EXPECT_TRUE(report.ok) << All(report);
  EXPECT_EQ(report.matched, 4);
}

TEST_F(CrossCheckTest, DigestMismatchIsReportedWithBothDigests) {
  WriteExchange(
      [](std::vector<AuditEvent>* c) { (*c)[3].payload_sha256 = Sha256Hex("result-2-altered"); });
  ASSERT_OK_AND_ASSIGN(auto report, CrossCheck(Path("site.jsonl"), Path("coord.jsonl")));
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.matched, 3);
  ASSERT_EQ(report.problems.size(), 1u) << All(report);
  EXPECT_THAT(report.problems[0],
              AllOf(HasSubstr("payload digest mismatch"), HasSubstr("task t2"),
                    HasSubstr(Sha256Hex("result-2")), HasSubstr(Sha256Hex("result-2-altered"))));
}

TEST_F(CrossCheckTest, MissingRecordsAreReportedInBothDirections) {
  WriteExchange([](std::vector<AuditEvent>* c) {
    c->erase(c->begin() + 1);  // coordinator never logged receiving result-1
  });
  ASSERT_OK_AND_ASSIGN(auto report, CrossCheck(Path("site.jsonl"), Path("coord.jsonl")));
  EXPECT_FALSE(report.ok);
  ASSERT_EQ(report.problems.size(), 1u) << All(report);
  EXPECT_THAT(report.problems[0], AllOf(HasSubstr("missing"), HasSubstr("site log line 4 (seq 3"),
                                        HasSubstr("task t1")));

  std::filesystem::remove(Path("site.jsonl"));
  std::filesystem::remove(Path("coord.jsonl"));
  WriteExchange([](std::vector<AuditEvent>* c) {
    c->push_back(Event(Direction::kReceived, "t9", "S1", "unsolicited"));
  });
  ASSERT_OK_AND_ASSIGN(auto extra, CrossCheck(Path("site.jsonl"), Path("coord.jsonl")));
  EXPECT_FALSE(extra.ok);
  ASSERT_EQ(extra.problems.size(), 1u) << All(extra);
  EXPECT_THAT(extra.problems[0], AllOf(HasSubstr("coordinator log"), HasSubstr("task t9"),
                                       HasSubstr("no matching sent record")));
}

TEST_F(CrossCheckTest, ReorderedMessagesAreReported) {
  WriteExchange([](std::vector<AuditEvent>* c) {
    // The coordinator logs result-2 before result-1 (the site sent them in
    // the other order on one ordered stream).
    std::swap((*c)[1], (*c)[3]);
  });
  ASSERT_OK_AND_ASSIGN(auto report, CrossCheck(Path("site.jsonl"), Path("coord.jsonl")));
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.matched, 4);
  ASSERT_EQ(report.problems.size(), 1u) << All(report);
  EXPECT_THAT(report.problems[0], HasSubstr("order differs"));
}

TEST_F(CrossCheckTest, LogsOfUnrelatedNodesAreNotAPass) {
  WriteExchange(nullptr);
  ASSERT_OK_AND_ASSIGN(auto report, CrossCheck(Path("site.jsonl"), Path("site.jsonl")));
  EXPECT_FALSE(report.ok);
  EXPECT_THAT(All(report), HasSubstr("no messages between the two nodes"));
}

TEST_F(CrossCheckTest, TamperedLogFailsTheCrossCheckToo) {
  WriteExchange(nullptr);
  std::string text = ReadAll(Path("coord.jsonl"));
  size_t at = text.find("\"task\":\"t2\"");
  ASSERT_NE(at, std::string::npos);
  text[at + 9] = '3';
  WriteAll(Path("coord.jsonl"), text);
  ASSERT_OK_AND_ASSIGN(auto report, CrossCheck(Path("site.jsonl"), Path("coord.jsonl")));
  EXPECT_FALSE(report.ok);
  EXPECT_THAT(All(report), HasSubstr("coordinator log"));
  EXPECT_THAT(All(report), HasSubstr("hash mismatch"));
}

}  // namespace
}  // namespace fedrad::audit
