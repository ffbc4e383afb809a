// docs/results.md and proto/results.proto describe the same keys: every key
// the doc's tables name is a field of v1::Results, and every field of
// v1::Results is named in the doc (itself, or inside a documented key whose
// meaning lists its contents, such as `…quantiles.<q1|median|q3>`). A key
// added to one without the other fails here; tests/demo_test.cc holds both to
// the results.json of a real study.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/csv.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "proto/results.pb.h"
#include "proto/results_json.h"
#include "tests/results_doc_testutil.h"

namespace fedrad::testing {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

std::vector<DocKey> Keys() {
  auto text = ReadFileToString(std::string(FEDRAD_SOURCE_DIR) + "/docs/results.md");
  EXPECT_OK(text);
  return DocumentedKeys(text.ok() ? *text : "");
}

bool IsStruct(const Descriptor* d) { return d->file()->package() == "google.protobuf"; }

// Whether `segments[i..]` names a key below message `d`.
bool Resolves(const Descriptor* d, const std::vector<std::string>& segments, size_t i) {
  if (i == segments.size() || segments[i] == "*") return true;
  for (int f = 0; f < d->field_count(); ++f) {
    const FieldDescriptor* field = d->field(f);
    if (!MatchesKey(segments[i], field->name())) continue;
    if (i + 1 == segments.size()) return true;
    if (field->is_map()) {
      const FieldDescriptor* value = field->message_type()->map_value();
      if (value->type() != FieldDescriptor::TYPE_MESSAGE) return i + 2 == segments.size();
      if (IsStruct(value->message_type())) return true;
      if (Resolves(value->message_type(), segments, i + 2)) return true;
    } else if (field->type() == FieldDescriptor::TYPE_MESSAGE) {
      if (IsStruct(field->message_type())) return true;
      if (Resolves(field->message_type(), segments, i + 1)) return true;
    }
  }
  return false;
}

// Every field below `d`, as (owner.field, a path to it with map keys "<key>").
void Fields(const Descriptor* d, const std::string& path,
            std::multimap<std::string, std::string>* out) {
  for (int f = 0; f < d->field_count(); ++f) {
    const FieldDescriptor* field = d->field(f);
    const std::string here = path.empty() ? field->name() : path + "." + field->name();
    out->emplace(field->full_name(), here);
    if (field->is_map()) {
      const FieldDescriptor* value = field->message_type()->map_value();
      if (value->type() == FieldDescriptor::TYPE_MESSAGE && !IsStruct(value->message_type())) {
        Fields(value->message_type(), here + ".<key>", out);
      }
    } else if (field->type() == FieldDescriptor::TYPE_MESSAGE && !IsStruct(field->message_type())) {
      Fields(field->message_type(), here, out);
    }
  }
}

// `path` is documented itself, lies inside a documented key, or holds one
// (a container such as cohort.sites).
bool Documented(const std::vector<DocKey>& keys, const std::string& path) {
  for (const DocKey& k : keys) {
    if (MatchesKey(k.pattern, path)) return true;
    for (size_t dot = k.pattern.find('.'); dot != std::string::npos;
         dot = k.pattern.find('.', dot + 1)) {
      if (MatchesKey(k.pattern.substr(0, dot), path)) return true;
    }
    for (size_t dot = path.find('.'); dot != std::string::npos; dot = path.find('.', dot + 1)) {
      if (MatchesKey(k.pattern, path.substr(0, dot))) return true;
    }
  }
  return false;
}

TEST(ResultsDoc, ReadsTheDocumentsNotation) {
  const std::vector<DocKey> keys = DocumentedKeys(
      "| `a.b` / `.c` | x |\n| `….columns.<column>.q` | y |\n| `m.{n,o.p}` | z |\n"
      "| `q.<r\\|s>` (+CI) | w |\n| `t.<m>_meta_tau2` / `_i2` | v |\n| `u[]` | |\n");
  std::vector<std::string> patterns;
  for (const DocKey& k : keys) patterns.push_back(k.pattern);
  EXPECT_THAT(patterns,
              ::testing::ElementsAre("a.b", "a.c", "cohort.pooled.columns.<column>.q",
                                     "cohort.sites.<site>.columns.<column>.q", "m.n", "m.o.p",
                                     "q.r", "q.r_ci_low", "q.r_ci_high", "q.s", "q.s_ci_low",
                                     "q.s_ci_high", "t.<m>_meta_tau2", "t.<m>_meta_i2", "u"));
  EXPECT_TRUE(
      MatchesKey("validation.<name>.pooled.<m>_meta_i2", "validation.cox.pooled.auc_t_meta_i2"));
  EXPECT_FALSE(MatchesKey("cohort.sites.<site>.n", "cohort.sites.S1.columns"));
  EXPECT_TRUE(MatchesKey("debug.*", "debug.sleep_n"));
}

TEST(ResultsDoc, EveryDocumentedKeyIsAFieldOfResultsProto) {
  const std::vector<DocKey> keys = Keys();
  ASSERT_GT(keys.size(), 150u);
  // The check can fail: a key the definition lacks does not resolve.
  EXPECT_FALSE(Resolves(v1::Results::descriptor(), {"cohort", "pooled", "columns", "x", "iqr"}, 0));
  EXPECT_TRUE(Resolves(v1::Results::descriptor(), {"cohort", "pooled", "columns", "x", "q1"}, 0));
  for (const DocKey& k : keys) {
    std::vector<std::string> segments = absl::StrSplit(k.pattern, '.');
    EXPECT_TRUE(Resolves(v1::Results::descriptor(), segments, 0))
        << "docs/results.md:" << k.line << " documents `" << k.pattern
        << "`, which proto/results.proto does not define: add the field, or fix the doc";
  }
}

TEST(ResultsDoc, EveryFieldOfResultsProtoIsDocumented) {
  const std::vector<DocKey> keys = Keys();
  std::multimap<std::string, std::string> fields;
  Fields(v1::Results::descriptor(), "", &fields);
  std::map<std::string, bool> documented;
  for (const auto& [field, path] : fields) documented[field] |= Documented(keys, path);
  for (const auto& [field, ok] : documented) {
    EXPECT_TRUE(ok) << "proto/results.proto field " << field << " (e.g. "
                    << fields.find(field)->second
                    << ") is not in docs/results.md: document the key";
  }
}

}  // namespace
}  // namespace fedrad::testing
