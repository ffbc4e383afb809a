// results.json <-> v1::Results: protobuf's JSON printer and parser, plus the
// two rules proto/results.proto states (NaN <-> null, json_keep_empty),
// applied by walking the message's descriptor beside the JSON tree.
#include "proto/results_json.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"

namespace fedrad {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using nlohmann::json;

bool IsWellKnown(const Descriptor* d) { return d->file()->package() == "google.protobuf"; }

bool Suppressed(const json& object) {
  auto it = object.find("suppressed");
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

// printing: protobuf's "NaN"/"Infinity"/"-Infinity" -> null.
// parsing:  null -> "NaN" (which the protobuf parser reads as NaN).
enum class Direction { kPrint, kParse };

void FixDouble(json& value, Direction dir) {
  if (dir == Direction::kPrint && value.is_string()) value = nullptr;
  if (dir == Direction::kParse && value.is_null()) value = "NaN";
}

void Walk(json& object, const Descriptor* d, Direction dir);

// `value` holds one element of `field` (a list element or a map value).
void WalkValue(json& value, const FieldDescriptor* field, Direction dir) {
  if (field->type() == FieldDescriptor::TYPE_DOUBLE) {
    FixDouble(value, dir);
  } else if (field->type() == FieldDescriptor::TYPE_MESSAGE && value.is_object() &&
             !IsWellKnown(field->message_type())) {
    Walk(value, field->message_type(), dir);
  }
}

void Walk(json& object, const Descriptor* d, Direction dir) {
  if (!object.is_object()) return;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* field = d->field(i);
    auto it = object.find(field->name());
    if (it == object.end()) {
      if (dir == Direction::kPrint && field->options().GetExtension(v1::json_keep_empty) &&
          !Suppressed(object)) {
        object[field->name()] = field->is_map() ? json::object() : json::array();
      }
      continue;
    }
    json& value = *it;
    if (field->is_map()) {
      if (!value.is_object()) continue;
      const FieldDescriptor* map_value = field->message_type()->map_value();
      for (auto& [key, v] : value.items()) WalkValue(v, map_value, dir);
    } else if (field->is_repeated()) {
      if (!value.is_array()) continue;
      for (json& v : value) WalkValue(v, field, dir);
    } else {
      WalkValue(value, field, dir);
    }
  }
}

}  // namespace

absl::StatusOr<std::string> PrintResults(const v1::Results& results) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string text;
  auto status = google::protobuf::util::MessageToJsonString(results, &text, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("cannot print results.json: ", status.ToString()));
  }
  json tree = json::parse(text, nullptr, false);
  if (tree.is_discarded()) return absl::InternalError("protobuf printed invalid JSON");
  Walk(tree, v1::Results::descriptor(), Direction::kPrint);
  return tree.dump(2) + "\n";
}

absl::StatusOr<v1::Results> ParseResults(const std::string& text, const std::string& source) {
  json tree = json::parse(text, nullptr, false);
  if (tree.is_discarded() || !tree.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": not a JSON object; give the results.json a study wrote"));
  }
  Walk(tree, v1::Results::descriptor(), Direction::kParse);
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  v1::Results results;
  auto status = google::protobuf::util::JsonStringToMessage(tree.dump(), &results, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source,
        ": does not match proto/results.proto (docs/results.md): ", status.message().as_string(),
        "; render it with the fedrad version that wrote it (provenance.software_version), or "
        "remove the key"));
  }
  return results;
}

}  // namespace fedrad
