// Shared helpers for the audit-log tests: a temporary folder with a study CA
// and node identities, and small file utilities.
#ifndef FEDRAD_CORE_AUDIT_TESTUTIL_H_
#define FEDRAD_CORE_AUDIT_TESTUTIL_H_

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/audit_log.h"
#include "core/hash.h"
#include "core/pki.h"
#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace fedrad::audit::testing {

// A temporary folder holding ca/ (the study CA), S1.{key,crt} (site),
// coordinator.{key,crt}, and other/ (a second CA) with X1.{key,crt}.
class AuditFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fedrad_audit_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_OK(pki::InitCa(Path("ca"), {}));
    ASSERT_OK(pki::IssueIdentity(Path("ca"), "S1", pki::Role::kSite, dir_));
    ASSERT_OK(pki::IssueIdentity(Path("ca"), "coordinator", pki::Role::kCoordinator, dir_));
    ASSERT_OK(pki::InitCa(Path("other"), {}));
    ASSERT_OK(pki::IssueIdentity(Path("other"), "X1", pki::Role::kSite, Path("other")));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  AuditLogOptions SiteOptions(const std::string& log_name) const {
    AuditLogOptions o;
    o.path = Path(log_name);
    o.node_id = "site:S1";
    o.key_path = Path("S1.key");
    o.cert_path = Path("S1.crt");
    return o;
  }
  AuditLogOptions CoordinatorOptions(const std::string& log_name) const {
    AuditLogOptions o;
    o.path = Path(log_name);
    o.node_id = "coordinator";
    o.key_path = Path("coordinator.key");
    o.cert_path = Path("coordinator.crt");
    return o;
  }

  static AuditEvent Event(Direction d, const std::string& task, const std::string& peer,
                          const std::string& payload) {
    AuditEvent e;
    e.direction = d;
    e.study_id = "crlm-2026";
    e.task_id = task;
    e.peer = peer;
    e.kind = "cohort.summary";
    e.payload_sha256 = Sha256Hex(payload);
    e.summary = "cohort summary, " + std::to_string(payload.size()) + " bytes";
    return e;
  }

  static std::string ReadAll(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static void WriteAll(const std::string& path, const std::string& data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << data;
  }
  // Splits into lines, each keeping its trailing newline.
  static std::vector<std::string> Lines(const std::string& text) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      size_t end = nl == std::string::npos ? text.size() : nl + 1;
      out.push_back(text.substr(pos, end - pos));
      pos = end;
    }
    return out;
  }
  static std::string Join(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l;
    return out;
  }

  std::string dir_;
};

}  // namespace fedrad::audit::testing

#endif  // FEDRAD_CORE_AUDIT_TESTUTIL_H_
