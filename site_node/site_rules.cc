#include "site_node/site_rules.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/csv.h"
#include "core/hash.h"

namespace fedrad::site {
namespace {

constexpr char kPublicPayload[] = "type.fedrad.dev/public";

uint64_t IdDigest(absl::string_view id) {
  const Sha256Digest d = Sha256(id);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | d[static_cast<size_t>(i)];
  return v;
}

// Size of the symmetric difference of two sorted vectors, stopping early
// once it reaches `cap`.
size_t SymmetricDifference(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b,
                           size_t cap) {
  size_t i = 0, j = 0, d = 0;
  while ((i < a.size() || j < b.size()) && d < cap) {
    if (j == b.size() || (i < a.size() && a[i] < b[j])) {
      ++d;
      ++i;
    } else if (i == a.size() || b[j] < a[i]) {
      ++d;
      ++j;
    } else {
      ++i;
      ++j;
    }
  }
  return d;
}

std::vector<uint64_t> Digests(const std::vector<std::string>& ids) {
  std::vector<uint64_t> out;
  out.reserve(ids.size());
  for (const auto& id : ids) out.push_back(IdDigest(id));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

absl::Status PublicError(absl::StatusCode code, absl::string_view message) {
  absl::Status s(code, message);
  s.SetPayload(kPublicPayload, absl::Cord("1"));
  return s;
}

bool IsPublic(const absl::Status& status) {
  return status.ok() || status.GetPayload(kPublicPayload).has_value();
}

absl::Status ForTheWire(const absl::Status& status, absl::string_view kind) {
  if (IsPublic(status)) return status;
  std::string text;
  switch (status.code()) {
    case absl::StatusCode::kPermissionDenied:
      text = "refused by the site's policy";
      break;
    case absl::StatusCode::kInvalidArgument:
      text = "the site's data or the study's parameters did not pass the site's checks";
      break;
    case absl::StatusCode::kFailedPrecondition:
      text = "a prerequisite step has not run at the site";
      break;
    case absl::StatusCode::kDeadlineExceeded:
      text = "the task ran past the site's deadline and was stopped";
      break;
    case absl::StatusCode::kCancelled:
      text = "the task was cancelled at the site";
      break;
    default:
      text = "the computation failed at the site";
  }
  return PublicError(status.code(),
                     absl::StrCat(kind, ": ", text,
                                  " (details in the site's own log; they do not leave the site)"));
}

bool IsPlainName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes || name.front() == '.') return false;
  for (char c : name) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

absl::Status CheckPlainName(absl::string_view name, absl::string_view field) {
  if (IsPlainName(name)) return absl::OkStatus();
  return PublicError(absl::StatusCode::kInvalidArgument,
                     absl::StrCat(field, ": not a plain name (1 to ", kMaxNameBytes,
                                  " of A-Z a-z 0-9 . _ -, not starting with '.') (rule plain-name)"));
}

absl::StatusOr<ReleaseLedger> ReleaseLedger::Load(const std::string& path) {
  ReleaseLedger ledger;
  std::ifstream in(path);
  if (!in) return ledger;  // no ledger yet
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    // quantity \t hex,hex,...
    std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits('\t', 1));
    if (parts.size() != 2) {
      return absl::DataLossError(absl::StrCat(path, ": line ", line_no, " is not a ledger entry"));
    }
    std::vector<uint64_t> pop;
    for (absl::string_view h : absl::StrSplit(parts[1], ',', absl::SkipEmpty())) {
      uint64_t v = 0;
      if (!absl::SimpleHexAtoi(h, &v)) {
        return absl::DataLossError(absl::StrCat(path, ": line ", line_no, " is not a ledger entry"));
      }
      pop.push_back(v);
    }
    std::sort(pop.begin(), pop.end());
    ledger.by_quantity_[parts[0]].push_back(std::move(pop));
  }
  return ledger;
}

absl::Status ReleaseLedger::Save(const std::string& path) const {
  std::ostringstream out;
  for (const auto& [quantity, pops] : by_quantity_) {
    for (const auto& pop : pops) {
      out << quantity << '\t';
      for (size_t i = 0; i < pop.size(); ++i) {
        if (i > 0) out << ',';
        out << absl::StrCat(absl::Hex(pop[i]));
      }
      out << '\n';
    }
  }
  const std::string tmp = path + ".tmp";
  if (absl::Status s = WriteStringToFile(tmp, out.str()); !s.ok()) return s;
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot write ", path, ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status ReleaseLedger::Check(const std::vector<Population>& populations, int k) const {
  for (const Population& p : populations) {
    const std::vector<uint64_t> pop = Digests(p.ids);
    for (const std::string& q : p.quantities) {
      auto it = by_quantity_.find(q);
      if (it == by_quantity_.end()) continue;
      for (const auto& earlier : it->second) {
        const size_t d = SymmetricDifference(pop, earlier, static_cast<size_t>(k));
        if (d > 0 && d < static_cast<size_t>(k)) {
          return PublicError(
              absl::StatusCode::kPermissionDenied,
              absl::StrCat("release refused: an aggregate about '", q,
                           "' would rest on a set of patients that differs from an earlier "
                           "answer of this study by fewer than k (rule no-differencing)"));
        }
      }
    }
  }
  return absl::OkStatus();
}

void ReleaseLedger::Record(const std::vector<Population>& populations) {
  for (const Population& p : populations) {
    std::vector<uint64_t> pop = Digests(p.ids);
    for (const std::string& q : p.quantities) {
      auto& list = by_quantity_[q];
      if (std::find(list.begin(), list.end(), pop) == list.end()) list.push_back(pop);
    }
  }
}

size_t ReleaseLedger::size() const {
  size_t n = 0;
  for (const auto& [q, pops] : by_quantity_) n += pops.size();
  return n;
}

}  // namespace fedrad::site
