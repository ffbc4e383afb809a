#include "core/pattern.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "re2/re2.h"

namespace fedrad {

absl::StatusOr<Pattern> Pattern::Compile(absl::string_view text, absl::string_view field) {
  if (text.size() > kMaxPatternBytes) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": the pattern is ", text.size(),
                                                   " bytes long; at most ", kMaxPatternBytes,
                                                   " are accepted"));
  }
  RE2::Options options;
  options.set_max_mem(kMaxProgramBytes);
  options.set_log_errors(false);
  auto re = std::make_shared<const re2::RE2>(re2::StringPiece(text.data(), text.size()), options);
  if (!re->ok()) {
    const bool too_big = re->error_code() == RE2::ErrorPatternTooLarge;
    return absl::InvalidArgumentError(absl::StrCat(
        field, too_big ? ": the pattern is too complex (its compiled form exceeds the memory cap)"
                       : ": not a valid regular expression (RE2 syntax): ",
        too_big ? "" : re->error().substr(0, 120)));
  }
  return Pattern(std::string(text), std::move(re));
}

bool Pattern::FullMatch(absl::string_view s) const {
  return RE2::FullMatch(re2::StringPiece(s.data(), s.size()), *re_);
}

bool Pattern::Search(absl::string_view s) const {
  return RE2::PartialMatch(re2::StringPiece(s.data(), s.size()), *re_);
}

namespace {

// Classic two-pointer wildcard match with backtracking to the last '*'
// only: O(|p| * |s|) worst case, no recursion.
bool MatchOne(absl::string_view p, absl::string_view s) {
  size_t pi = 0, si = 0, star = absl::string_view::npos, mark = 0;
  while (si < s.size()) {
    if (pi < p.size() && (p[pi] == '?' || p[pi] == s[si])) {
      ++pi;
      ++si;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = si;
    } else if (star != absl::string_view::npos) {
      pi = star + 1;
      si = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

}  // namespace

bool WildcardMatch(absl::string_view pattern, absl::string_view s) {
  for (absl::string_view alt : absl::StrSplit(pattern, '|')) {
    if (MatchOne(alt, s)) return true;
  }
  return false;
}

}  // namespace fedrad
