#include "features/filters/padding.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace fedrad::features::filters {

absl::StatusOr<Padding> ParsePadding(absl::string_view name) {
  const std::string n = absl::AsciiStrToLower(name);
  if (n == "constant" || n == "zero") return Padding::kConstant;
  if (n == "nearest") return Padding::kNearest;
  if (n == "periodic" || n == "wrap") return Padding::kPeriodic;
  if (n == "mirror" || n == "reflect" || n == "symmetric") return Padding::kMirror;
  return absl::InvalidArgumentError(absl::StrCat(
      "padding '", name, "' is not one of constant, nearest, periodic, mirror"));
}

std::string PaddingName(Padding padding) {
  switch (padding) {
    case Padding::kConstant:
      return "constant";
    case Padding::kNearest:
      return "nearest";
    case Padding::kPeriodic:
      return "periodic";
    case Padding::kMirror:
      return "mirror";
  }
  return "constant";
}

}  // namespace fedrad::features::filters
