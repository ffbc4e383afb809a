// The one definition of the task kinds (proto/task_kinds.h): its typed
// accessors round-trip any name (a column with a comma or a newline in it),
// the table is consistent, and no name it defines is spelled again where the
// site, the coordinator or the round verifier encode or decode payloads.
#include "proto/task_kinds.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fedrad::kinds {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

v1::Payload OverTheWire(const v1::Payload& p) {
  v1::Payload back;
  EXPECT_TRUE(back.ParseFromString(p.SerializeAsString()));
  return back;
}

TEST(TaskKinds, ListsRoundTripAnyName) {
  const std::vector<std::string> columns = {"tumour size, mm", "a\nb", "", "plain", "é,ß;\t|"};
  v1::Payload p;
  Put(&p, combat_distributions::kColumns, columns);
  const v1::Payload back = OverTheWire(p);
  EXPECT_EQ(Get(back, combat_distributions::kColumns), columns);
  // Absent: an empty list, and Has tells the two apart.
  EXPECT_THAT(Get(back, model_task::kCovariates), IsEmpty());
  EXPECT_FALSE(Has(back, model_task::kCovariates));
  v1::Payload empty;
  Put(&empty, combat_check::kFeatures, {});
  EXPECT_TRUE(Has(OverTheWire(empty), combat_check::kFeatures));
}

// features.extract's excluded cases: ids and reasons with any character
// (the JSON text they replaced needed escaping), in the site's order.
TEST(TaskKinds, CaseNotesRoundTripInOrder) {
  std::vector<v1::CaseNote> notes(2);
  notes[0].set_case_id("C1_0007");
  notes[0].set_reason("cannot read <image>: \"truncated\", line 2\nof 3");
  notes[1].set_case_id("C1, 0003");
  notes[1].set_reason("empty 'liver_mask' cell (data table line 6)");
  v1::Payload p;
  EXPECT_THAT(Get(p, features_extract::kExcludedCases), IsEmpty());
  EXPECT_FALSE(Has(p, features_extract::kExcludedCases));
  Put(&p, features_extract::kExcludedCases, notes);
  const v1::Payload back = OverTheWire(p);
  EXPECT_TRUE(Has(back, features_extract::kExcludedCases));
  const std::vector<v1::CaseNote> got = Get(back, features_extract::kExcludedCases);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].case_id(), "C1_0007");
  EXPECT_EQ(got[0].reason(), notes[0].reason());
  EXPECT_EQ(got[1].case_id(), "C1, 0003");
  EXPECT_EQ(got[1].reason(), notes[1].reason());
  // Put replaces: the last list written is the one sent.
  Put(&p, features_extract::kExcludedCases, {notes[1]});
  ASSERT_EQ(Get(p, features_extract::kExcludedCases).size(), 1u);
}

TEST(TaskKinds, TypedArraysCheckTheirShape) {
  v1::Payload p;
  Put(&p, combat_moments::kN, 12.0);
  Put(&p, combat_moments::kSumFeatures, std::vector<double>{1, 2, 3});
  Put(&p, combat_moments::kCovariateCross, 2, 3, {1, 2, 3, 4, 5, 6});
  Put(&p, combat_distributions::kGrid, "age, years", std::vector<double>{30, 40});
  Put(&p, models_validate::kMetric, "auc", 0.7);
  const v1::Payload back = OverTheWire(p);
  EXPECT_EQ(*Get(back, combat_moments::kN), 12.0);
  EXPECT_THAT(*Get(back, combat_moments::kSumFeatures, 3), ElementsAre(1, 2, 3));
  EXPECT_EQ(Get(back, combat_moments::kSumFeatures, 4).status().code(),
            absl::StatusCode::kDataLoss);
  absl::StatusOr<MatrixValues> m = Get(back, combat_moments::kCovariateCross, 2, 3);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_THAT(m->row_major, ElementsAre(1, 2, 3, 4, 5, 6));
  EXPECT_EQ(Get(back, combat_moments::kCovariateCross, 3, 2).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(Get(back, combat_moments::kSumCovariates).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_THAT(*Get(back, combat_distributions::kGrid, "age, years"), ElementsAre(30, 40));
  EXPECT_EQ(*GetOne(back, models_validate::kMetric, "auc"), 0.7);
}

TEST(TaskKinds, TheTableIsConsistent) {
  std::set<std::string> kinds;
  for (const Kind& k : AllKinds()) {
    SCOPED_TRACE(k.name);
    EXPECT_TRUE(kinds.insert(k.name).second) << "defined twice";
    EXPECT_EQ(FindKind(k.name), &k);
    std::set<std::string> outputs;
    for (const Field* f : k.outputs) {
      SCOPED_TRACE(f->name);
      EXPECT_TRUE(outputs.insert(f->name).second) << "output defined twice";
      EXPECT_NE(f->rule, Disclosure::kParam) << "an output needs a disclosure rule";
      if (f->sum != Sum::kPerSite || f->per_column) {
        EXPECT_TRUE(IsArray(*f));
      }
      EXPECT_EQ(FindOutput(k, f->per_column ? absl::StrCat(f->name, ".x") : f->name), f);
    }
    for (const Field* f : k.params) EXPECT_EQ(f->rule, Disclosure::kParam) << f->name;
  }
  EXPECT_EQ(FindKind("no.such"), nullptr);
  // The securely summed arrays, as site_node/secure_agg.cc listed them by
  // hand before this table.
  EXPECT_THAT(MaskedNames(*FindKind(models_derivatives::kName)),
              ElementsAre("loglik", "gradient", "information"));
  EXPECT_THAT(MaskedNames(*FindKind(combat_moments::kName)),
              ElementsAre("covariate_cross", "covariate_feature_cross"));
  EXPECT_THAT(MaskedNames(*FindKind(combat_residuals::kName)), ElementsAre("rss"));
  EXPECT_THAT(MaskedNames(*FindKind(debug_vector::kName)), ElementsAre("vector"));
  // The arrays a verifiable round sums, as tasks_models.cc listed them.
  EXPECT_THAT(RoundSummedNames(*FindKind(models_prepare::kName)),
              ElementsAre("n", "events", "sum_x", "sum_xx"));
  EXPECT_THAT(RoundSummedNames(*FindKind(models_derivatives::kName)),
              ElementsAre("n", "events", "loglik", "gradient", "information"));
  EXPECT_THAT(ReleasableNames(*FindKind(combat_distributions::kName)),
              ElementsAre("n", "mean", "m2", "suppressed", "grid.*", "counts.*"));
}

// ---- One spelling ---------------------------------------------------------------

// Literals that happen to equal a defined name but mean something else, each
// with its reason. "*": every defined name in that file.
struct Exemption {
  const char* file;
  const char* literal;
};
const Exemption kExemptions[] = {
    // The audit summary of a task's params matches name patterns across
    // every kind (beta*: the largest |beta|; *grid*: grid points).
    {"site_node/study_policy.cc", "*"},
    // results.json keys of harmonization.pooled that the auditor's replay
    // compares against its recomputation.
    {"rounds/replay.cc", "grand_mean"},
    {"rounds/replay.cc", "var_pooled"},
    // The logistic model's intercept coefficient in results.json (not the
    // combat.residuals parameter of the same spelling).
    {"rounds/replay.cc", "intercept"},
    {"coordinator/analysis_models.cc", "intercept"},
    // A results.json value (a cohort column's type).
    {"coordinator/analysis_cohort.cc", "binary"},
    // The study spec's field Study.min_cell_count, named in its error.
    {"coordinator/analyses.cc", "min_cell_count"},
    // A filter type of the feature settings (--filter 'mean:...'), moved to
    // site_node/ from cli/; not the cohort.moments output.
    {"site_node/feature_settings.cc", "mean"},
};

bool Exempt(const std::string& file, const std::string& literal) {
  for (const Exemption& e : kExemptions) {
    if (file == e.file && (std::string(e.literal) == "*" || literal == e.literal)) return true;
  }
  return false;
}

struct Literal {
  std::string text;
  size_t begin = 0;  // offset of the opening quote
  size_t end = 0;    // offset after the closing quote
};

// The file without comments, and its string literals.
std::string StripComments(const std::string& src, std::vector<Literal>* literals) {
  std::string out;
  out.reserve(src.size());
  for (size_t i = 0; i < src.size();) {
    if (src.compare(i, 2, "//") == 0) {
      while (i < src.size() && src[i] != '\n') ++i;
      continue;
    }
    if (src.compare(i, 2, "/*") == 0) {
      const size_t close = src.find("*/", i + 2);
      i = close == std::string::npos ? src.size() : close + 2;
      continue;
    }
    if (src[i] == '\'') {  // a character literal ('"' among them)
      out += src[i++];
      while (i < src.size() && src[i] != '\'') {
        if (src[i] == '\\') out += src[i++];
        if (i < src.size()) out += src[i++];
      }
      if (i < src.size()) out += src[i++];
      continue;
    }
    if (src[i] == '"') {
      Literal lit;
      lit.begin = out.size();
      out += src[i++];
      while (i < src.size() && src[i] != '"') {
        if (src[i] == '\\') {
          lit.text += src[i];
          out += src[i++];
        }
        if (i < src.size()) {
          lit.text += src[i];
          out += src[i++];
        }
      }
      if (i < src.size()) out += src[i++];
      lit.end = out.size();
      literals->push_back(lit);
      continue;
    }
    out += src[i++];
  }
  return out;
}

char Before(const std::string& s, size_t at, size_t* pos = nullptr) {
  size_t i = at;
  while (i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\n')) --i;
  if (pos != nullptr) *pos = i == 0 ? 0 : i - 1;
  return i == 0 ? '\0' : s[i - 1];
}

char After(const std::string& s, size_t at, size_t* pos = nullptr) {
  size_t i = at;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\n')) ++i;
  if (pos != nullptr) *pos = i;
  return i < s.size() ? s[i] : '\0';
}

// results.json keys (nlohmann::json), the other half of issue 16
// (proto/results.proto): `j["n"]` (a subscript not of a protobuf map),
// `{"center", value}` (an initializer pair whose value is not another name),
// `j.value("n", ...)`, `j.contains("n")`.
bool IsResultsJsonKey(const std::string& code, const Literal& lit) {
  size_t b = 0, a = 0;
  const char before = Before(code, lit.begin, &b);
  const char after = After(code, lit.end, &a);
  if (before == '[' && after == ']') {
    // (*p.mutable_strings())["n"], p.strings()["n"], p.lists()["n"] are
    // payload maps, any other subscript a json key.
    const std::string head = code.substr(b >= 24 ? b - 24 : 0, b >= 24 ? 24 : b);
    for (const char* map : {"strings()", "strings())", "lists()", "lists())"}) {
      if (absl::EndsWith(head, map)) return false;
    }
    return true;
  }
  if (before == '{' && after == ',') return After(code, a + 1) != '"';
  if (before == '(' && (after == ',' || after == ')')) {
    const std::string head = code.substr(b >= 9 ? b - 9 : 0, b >= 9 ? 9 : b);
    return absl::EndsWith(head, ".value") || absl::EndsWith(head, ".contains");
  }
  return false;
}

TEST(TaskKinds, EveryNameIsSpelledOnlyInTheDefinition) {
  std::set<std::string> names;
  for (const Kind& k : AllKinds()) {
    names.insert(k.name);
    for (const auto* fields : {&k.params, &k.outputs, &k.inputs}) {
      for (const Field* f : *fields) names.insert(f->name);
    }
  }
  const std::filesystem::path root(FEDRAD_SOURCE_DIR);
  std::vector<std::string> offenders;
  int files = 0;
  for (const char* dir : {"site_node", "coordinator", "rounds"}) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root / dir)) {
      const std::string rel = std::filesystem::relative(entry.path(), root).generic_string();
      const std::string ext = entry.path().extension().string();
      if (!entry.is_regular_file() || (ext != ".cc" && ext != ".h")) continue;
      if (absl::EndsWith(rel, "_test.cc") || absl::EndsWith(rel, "_testutil.h")) continue;
      ++files;
      std::ifstream in(entry.path());
      std::stringstream buffer;
      buffer << in.rdbuf();
      std::vector<Literal> literals;
      const std::string code = StripComments(buffer.str(), &literals);
      for (const Literal& lit : literals) {
        if (!names.count(lit.text) || IsResultsJsonKey(code, lit)) continue;
        if (Exempt(rel, lit.text)) continue;
        const int line =
            1 + static_cast<int>(std::count(code.begin(), code.begin() + lit.begin, '\n'));
        offenders.push_back(absl::StrCat(rel, ":", line, ": \"", lit.text, "\""));
      }
    }
  }
  EXPECT_GT(files, 30) << "the source tree was not found at " << root;
  EXPECT_THAT(offenders, IsEmpty())
      << "names of proto/task_kinds.h spelled again (use the field constants):\n"
      << absl::StrJoin(offenders, "\n");
}

}  // namespace
}  // namespace fedrad::kinds
