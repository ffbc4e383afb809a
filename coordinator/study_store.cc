#include "coordinator/study_store.h"

#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace fedrad::coordinator {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS studies (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  spec TEXT NOT NULL,
  state TEXT NOT NULL,
  message TEXT NOT NULL,
  next_step INTEGER NOT NULL,
  results_json TEXT NOT NULL,
  excluded_sites TEXT NOT NULL,
  sites TEXT NOT NULL,
  rounds INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  submitted_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
)sql";

constexpr char kColumns[] =
    "id, name, spec, state, message, next_step, results_json, excluded_sites, sites, rounds, "
    "epoch, submitted_at, updated_at";

std::string NowIso() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
}

// Finalizes a prepared statement on every path.
struct Statement {
  sqlite3_stmt* stmt = nullptr;
  ~Statement() { sqlite3_finalize(stmt); }
};

std::string Text(sqlite3_stmt* stmt, int col) {
  const unsigned char* p = sqlite3_column_text(stmt, col);
  return p == nullptr ? "" : std::string(reinterpret_cast<const char*>(p),
                                         static_cast<size_t>(sqlite3_column_bytes(stmt, col)));
}

absl::StatusOr<StoredStudy> ReadRow(sqlite3_stmt* stmt, const std::string& path) {
  StoredStudy s;
  s.id = Text(stmt, 0);
  s.name = Text(stmt, 1);
  s.spec_text = Text(stmt, 2);
  s.state = Text(stmt, 3);
  s.message = Text(stmt, 4);
  s.next_step = sqlite3_column_int(stmt, 5);
  s.results_json = Text(stmt, 6);
  auto excluded = nlohmann::json::parse(Text(stmt, 7), nullptr, false);
  auto sites = nlohmann::json::parse(Text(stmt, 8), nullptr, false);
  if (!excluded.is_object() || !sites.is_array()) {
    return absl::DataLossError(absl::StrCat(path, ": study ", s.id,
                                            ": excluded_sites or sites is not valid JSON"));
  }
  for (auto& [site, reason] : excluded.items()) {
    s.excluded_sites[site] = reason.is_string() ? reason.get<std::string>() : reason.dump();
  }
  for (const auto& site : sites) {
    if (site.is_string()) s.sites.push_back(site.get<std::string>());
  }
  s.rounds = sqlite3_column_int64(stmt, 9);
  s.epoch = sqlite3_column_int64(stmt, 10);
  s.submitted_at = Text(stmt, 11);
  s.updated_at = Text(stmt, 12);
  return s;
}

}  // namespace

absl::StatusOr<std::unique_ptr<StudyStore>> StudyStore::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    std::string why = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open the study store ", path, ": ", why));
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<StudyStore> store(new StudyStore(path, db));
  if (absl::Status s = store->Exec(kSchema); !s.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not a usable fedrad study store: ", s.message()));
  }
  {
    Statement st;
    sqlite3_prepare_v2(db, "SELECT version FROM schema_version", -1, &st.stmt, nullptr);
    if (st.stmt == nullptr) return absl::InternalError(sqlite3_errmsg(db));
    if (sqlite3_step(st.stmt) == SQLITE_ROW) {
      int version = sqlite3_column_int(st.stmt, 0);
      if (version != 1) {
        return absl::FailedPreconditionError(absl::StrCat(
            path, ": study store schema version ", version, ", this coordinator reads version 1"));
      }
    } else {
      if (absl::Status s = store->Exec("INSERT INTO schema_version (version) VALUES (1)"); !s.ok()) {
        return s;
      }
    }
  }
  return store;
}

StudyStore::~StudyStore() { sqlite3_close(db_); }

absl::Status StudyStore::Exec(const std::string& sql) const {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string why = error != nullptr ? error : "unknown error";
    sqlite3_free(error);
    return absl::InternalError(absl::StrCat(path_, ": ", why));
  }
  return absl::OkStatus();
}

absl::Status StudyStore::Put(const StoredStudy& study) {
  absl::MutexLock lock(&mu_);
  nlohmann::json excluded = nlohmann::json::object();
  for (const auto& [site, reason] : study.excluded_sites) excluded[site] = reason;
  nlohmann::json sites = study.sites;
  std::string now = NowIso();
  Statement st;
  std::string sql = absl::StrCat(
      "INSERT INTO studies (", kColumns,
      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) "
      "ON CONFLICT(id) DO UPDATE SET name = ?2, spec = ?3, state = ?4, message = ?5, "
      "next_step = ?6, results_json = ?7, excluded_sites = ?8, sites = ?9, rounds = ?10, "
      "epoch = ?11, updated_at = ?13");
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st.stmt, nullptr) != SQLITE_OK) {
    return absl::InternalError(absl::StrCat(path_, ": ", sqlite3_errmsg(db_)));
  }
  std::string excluded_text = excluded.dump();
  std::string sites_text = sites.dump();
  std::string submitted = study.submitted_at.empty() ? now : study.submitted_at;
  auto bind = [&](int i, const std::string& v) {
    sqlite3_bind_text(st.stmt, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  };
  bind(1, study.id);
  bind(2, study.name);
  bind(3, study.spec_text);
  bind(4, study.state);
  bind(5, study.message);
  sqlite3_bind_int(st.stmt, 6, study.next_step);
  bind(7, study.results_json);
  bind(8, excluded_text);
  bind(9, sites_text);
  sqlite3_bind_int64(st.stmt, 10, study.rounds);
  sqlite3_bind_int64(st.stmt, 11, study.epoch);
  bind(12, submitted);
  bind(13, now);
  if (sqlite3_step(st.stmt) != SQLITE_DONE) {
    return absl::InternalError(
        absl::StrCat(path_, ": cannot store study ", study.id, ": ", sqlite3_errmsg(db_)));
  }
  return absl::OkStatus();
}

absl::StatusOr<StoredStudy> StudyStore::Get(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  Statement st;
  std::string sql = absl::StrCat("SELECT ", kColumns, " FROM studies WHERE id = ?1");
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st.stmt, nullptr) != SQLITE_OK) {
    return absl::InternalError(absl::StrCat(path_, ": ", sqlite3_errmsg(db_)));
  }
  sqlite3_bind_text(st.stmt, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
  int rc = sqlite3_step(st.stmt);
  if (rc == SQLITE_ROW) return ReadRow(st.stmt, path_);
  if (rc == SQLITE_DONE) return absl::NotFoundError(absl::StrCat("no study '", id, "' in ", path_));
  return absl::InternalError(absl::StrCat(path_, ": ", sqlite3_errmsg(db_)));
}

absl::StatusOr<std::vector<StoredStudy>> StudyStore::List() const {
  absl::MutexLock lock(&mu_);
  Statement st;
  std::string sql = absl::StrCat("SELECT ", kColumns, " FROM studies ORDER BY id");
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st.stmt, nullptr) != SQLITE_OK) {
    return absl::InternalError(absl::StrCat(path_, ": ", sqlite3_errmsg(db_)));
  }
  std::vector<StoredStudy> out;
  int rc;
  while ((rc = sqlite3_step(st.stmt)) == SQLITE_ROW) {
    auto row = ReadRow(st.stmt, path_);
    if (!row.ok()) return row.status();
    out.push_back(std::move(*row));
  }
  if (rc != SQLITE_DONE) return absl::InternalError(absl::StrCat(path_, ": ", sqlite3_errmsg(db_)));
  return out;
}

}  // namespace fedrad::coordinator
