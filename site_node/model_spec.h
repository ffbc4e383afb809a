// A study's Model (proto/models.proto) as models::FitSpec's plain options:
// one translation for the site that fits a model itself (models.fit) and for
// the coordinator that fits it over several sites, so that both run the same
// procedure with the same settings (models/ itself never includes protobuf).
//
//   FEDRAD_ASSIGN_OR_RETURN(spec, models::FitSpec(FitSpecOptionsOf(model), input));
#ifndef FEDRAD_SITE_NODE_MODEL_SPEC_H_
#define FEDRAD_SITE_NODE_MODEL_SPEC_H_

#include "models/fit_spec.h"
#include "proto/models.pb.h"

namespace fedrad {

// The fitting options of `model` (type, eps, iterations, penalty, selection,
// standardisation); defaults are FitSpec's when a field is unset.
models::FitSpecOptions FitSpecOptionsOf(const v1::Model& model);

}  // namespace fedrad

#endif  // FEDRAD_SITE_NODE_MODEL_SPEC_H_
