// Patterns that come from a study spec or a user (column selections such as
// "^lesion_.*$"), compiled with RE2: matching is linear in the input, the
// compiled program's memory is capped and a pattern's length is bounded, so a
// crafted pattern can neither hang nor crash the process (std::regex
// recurses, and a deeply nested pattern overflows its stack).
//
//   FEDRAD_ASSIGN_OR_RETURN(Pattern p, Pattern::Compile(spec.features(), "harmonization.features"));
//   if (p.Search(column)) ...
//
// Syntax: RE2 (a superset of POSIX ERE, like ECMAScript without
// backreferences and lookaround). Errors are InvalidArgument naming the
// field, never echoing the pattern (it may be long). Thread safe once
// compiled; copies share the compiled program.
#ifndef FEDRAD_CORE_PATTERN_H_
#define FEDRAD_CORE_PATTERN_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace re2 {
class RE2;
}

namespace fedrad {

class Pattern {
 public:
  // Longest pattern accepted, in bytes.
  static constexpr size_t kMaxPatternBytes = 1024;
  // Memory budget of the compiled program (RE2's max_mem), in bytes.
  static constexpr int64_t kMaxProgramBytes = 1 << 20;

  // Compiles `text`. InvalidArgument naming `field` when it is longer than
  // kMaxPatternBytes, does not parse, or needs more than kMaxProgramBytes.
  static absl::StatusOr<Pattern> Compile(absl::string_view text, absl::string_view field);

  // True if the whole of `s` matches.
  bool FullMatch(absl::string_view s) const;
  // True if some part of `s` matches (anchor with ^...$ for the whole).
  bool Search(absl::string_view s) const;
  const std::string& text() const { return text_; }

 private:
  Pattern(std::string text, std::shared_ptr<const re2::RE2> re)
      : text_(std::move(text)), re_(std::move(re)) {}
  std::string text_;
  std::shared_ptr<const re2::RE2> re_;
};

// Shell-style wildcard match: '*' any run, '?' one character, '|' between
// alternatives ("GTV*|Metastasis*"). Iterative, linear in |s| * |pattern|.
bool WildcardMatch(absl::string_view pattern, absl::string_view s);

}  // namespace fedrad

#endif  // FEDRAD_CORE_PATTERN_H_
