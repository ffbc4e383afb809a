// The key paths docs/results.md documents, read from its tables, for the tests
// that hold the documentation, proto/results.proto and the results.json of
// real studies to each other (tests/results_doc_test.cc, tests/demo_test.cc).
//
// A table row's first column names one or more keys in the doc's notation;
// DocumentedKeys expands it into plain patterns:
//   `features.n_cases` / `.n_ok`          -> features.n_cases, features.n_ok
//   `<m>_meta_tau2` / `_i2`               -> <m>_meta_tau2, <m>_meta_i2
//   `….columns.<column>.n`               -> cohort.pooled.columns.<column>.n and
//                                           cohort.sites.<site>.columns.<column>.n
//   `a.{b,c.d}`                          -> a.b, a.c.d
//   `quantiles.<q1\|median\|q3>`          -> quantiles.q1, quantiles.median, ...
//   `x` (+CI), (+`_ci_low`, `_ci_high`)  -> x, x_ci_low, x_ci_high
//   `km_groups[]`                         -> km_groups
//   `debug.*`                             -> debug.* (debug and everything below)
// In a pattern, <anything> stands for one key (a site, a column...) or part
// of one; MatchesKey compares a pattern with a concrete dotted path.
#ifndef FEDRAD_TESTS_RESULTS_DOC_TESTUTIL_H_
#define FEDRAD_TESTS_RESULTS_DOC_TESTUTIL_H_

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "re2/re2.h"

namespace fedrad::testing {

struct DocKey {
  std::string pattern;  // e.g. "cohort.sites.<site>.columns.<column>.n"
  int line = 0;         // in docs/results.md
};

namespace results_doc_internal {

inline std::vector<std::string> ExpandBraces(const std::string& s) {
  const size_t open = s.find('{');
  if (open == std::string::npos) return {s};
  const size_t close = s.find('}', open);
  if (close == std::string::npos) return {s};
  std::vector<std::string> out;
  for (absl::string_view alt : absl::StrSplit(s.substr(open + 1, close - open - 1), ',')) {
    for (const std::string& rest : ExpandBraces(s.substr(close + 1))) {
      out.push_back(absl::StrCat(s.substr(0, open), absl::StripAsciiWhitespace(alt), rest));
    }
  }
  return out;
}

// <a|b|c> (written <a\|b\|c> in the table) -> a, b, c.
inline std::vector<std::string> ExpandAlternatives(const std::string& s) {
  const size_t bar = s.find('|');
  if (bar == std::string::npos) return {s};
  const size_t open = s.rfind('<', bar), close = s.find('>', bar);
  if (open == std::string::npos || close == std::string::npos) return {s};
  std::vector<std::string> out;
  for (absl::string_view alt : absl::StrSplit(s.substr(open + 1, close - open - 1), '|')) {
    for (const std::string& rest : ExpandAlternatives(s.substr(close + 1))) {
      out.push_back(absl::StrCat(s.substr(0, open), alt, rest));
    }
  }
  return out;
}

// A shorthand after " / ": ".x" replaces the last key, "_x_y" the last two
// "_"-parts of it; anything else is a full path.
inline std::string Resolve(const std::string& previous, const std::string& span) {
  if (absl::StartsWith(span, ".")) {
    return previous.substr(0, previous.rfind('.')) + span;
  }
  if (absl::StartsWith(span, "_")) {
    std::string base = previous;
    for (char c : span) {
      if (c == '_') base = base.substr(0, base.rfind('_'));
    }
    return base + span;
  }
  return span;
}

}  // namespace results_doc_internal

// Every key pattern in the first column of docs/results.md's tables.
inline std::vector<DocKey> DocumentedKeys(const std::string& markdown) {
  namespace in = results_doc_internal;
  std::vector<DocKey> out;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(markdown, '\n')) {
    ++line_number;
    if (!absl::StartsWith(line, "| `")) continue;
    std::string row = absl::StrReplaceAll(line, {{"\\|", "\x01"}});
    std::vector<std::string> cells = absl::StrSplit(row, " | ");
    std::string cell = std::string(absl::StripPrefix(cells[0], "| "));
    const size_t ci = cell.find("(+");
    const bool with_ci = ci != std::string::npos;
    if (with_ci) cell = cell.substr(0, ci);
    std::vector<std::string> paths;
    std::string previous;
    std::vector<std::string> spans = absl::StrSplit(cell, '`');
    for (size_t i = 1; i < spans.size(); i += 2) {
      previous = in::Resolve(previous, absl::StrReplaceAll(spans[i], {{"\x01", "|"}}));
      paths.push_back(previous);
    }
    for (const std::string& p : paths) {
      std::vector<std::string> roots;
      if (absl::StartsWith(p, "…")) {
        const std::string rest(absl::StripPrefix(p, "…"));
        roots = {"cohort.pooled" + rest, "cohort.sites.<site>" + rest};
      } else {
        roots = {p};
      }
      for (const std::string& root : roots) {
        for (const std::string& b : in::ExpandBraces(root)) {
          for (std::string a : in::ExpandAlternatives(b)) {
            if (absl::EndsWith(a, "[]")) a.resize(a.size() - 2);
            out.push_back({a, line_number});
            if (with_ci) {
              out.push_back({a + "_ci_low", line_number});
              out.push_back({a + "_ci_high", line_number});
            }
          }
        }
      }
    }
  }
  return out;
}

// Whether `path` (e.g. "cohort.sites.S1.n") is what `pattern` documents:
// each "<...>" stands for one key or part of one; "x.*" is x and everything
// below it. Not thread safe (caches the compiled patterns).
inline bool MatchesKey(const std::string& pattern, const std::string& path) {
  static auto* cache = new std::map<std::string, std::unique_ptr<RE2>>();
  std::unique_ptr<RE2>& compiled = (*cache)[pattern];
  if (compiled == nullptr) {
    std::string re;
    std::string p = pattern;
    const bool subtree = absl::EndsWith(p, ".*");
    if (subtree) p.resize(p.size() - 2);
    for (size_t i = 0; i < p.size();) {
      if (p[i] == '<') {
        const size_t close = p.find('>', i);
        re += "[^.]+";
        i = close == std::string::npos ? p.size() : close + 1;
      } else {
        re += RE2::QuoteMeta(std::string(1, p[i]));
        ++i;
      }
    }
    if (subtree) re += "(\\..*)?";
    compiled = std::make_unique<RE2>(re);
  }
  return RE2::FullMatch(path, *compiled);
}

// Every path in `results` (objects' keys joined by "."; an array is one path,
// its elements are not entered).
inline void KeyPaths(const nlohmann::json& j, const std::string& path, std::set<std::string>* out) {
  if (!path.empty()) out->insert(path);
  if (!j.is_object()) return;
  for (auto it = j.begin(); it != j.end(); ++it) {
    KeyPaths(*it, path.empty() ? it.key() : path + "." + it.key(), out);
  }
}

// The documented patterns that no path of `results` matches, except those in
// `not_expected` (keys the study is not meant to write).
inline std::vector<std::string> DocumentedButAbsent(const nlohmann::json& results,
                                                    const std::vector<DocKey>& keys,
                                                    const std::set<std::string>& not_expected) {
  std::set<std::string> paths;
  KeyPaths(results, "", &paths);
  std::vector<std::string> absent;
  std::set<std::string> seen;
  for (const DocKey& k : keys) {
    if (not_expected.count(k.pattern) || !seen.insert(k.pattern).second) continue;
    bool found = false;
    for (const std::string& p : paths) {
      if (MatchesKey(k.pattern, p)) {
        found = true;
        break;
      }
    }
    if (!found) absent.push_back(k.pattern);
  }
  return absent;
}

}  // namespace fedrad::testing

#endif  // FEDRAD_TESTS_RESULTS_DOC_TESTUTIL_H_
