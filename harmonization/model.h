// A fitted ComBat model that can be stored (JSON) and applied later:
//   - to new patients at a site that took part in the fit (stored gamma*,
//     delta* of that site, the patient's own covariates);
//   - to a site that joins after the fit (an external validation centre):
//     its gamma*/delta* are estimated against the FROZEN pooled estimates
//     (grand mean, covariate effects, pooled variance), as neuroHarmonize
//     does, so nobody refits. The new site's EB priors are its own, as for
//     every site.
//
//   FEDRAD_ASSIGN_OR_RETURN(ComBatModel model, ModelFromFit(result, names, ...));
//   WriteStringToFile("model.json", ModelToJson(model).dump(2));
//   ...
//   FEDRAD_ASSIGN_OR_RETURN(Eigen::MatrixXd h, HarmonizeWithModel(&model, "S9", data));
//
// Pure and thread compatible (HarmonizeWithModel mutates only *model).
#ifndef FEDRAD_HARMONIZATION_MODEL_H_
#define FEDRAD_HARMONIZATION_MODEL_H_

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "harmonization/combat.h"

namespace fedrad::harmonization {

struct SiteModel {
  int64_t n = 0;                           // patients the effects were estimated from
  Eigen::VectorXd gamma_star, delta_star;  // over ComBatModel::adjusted
  bool joined_after_fit = false;           // estimated against the frozen model
};

struct ComBatModel {
  ComBatOptions options;
  bool mean_only = false;                // the study-wide decision (plan)
  std::vector<std::string> features;     // every feature column handled
  std::vector<std::string> adjusted;     // those ComBat adjusts (others pass through)
  std::vector<std::string> covariates;
  PooledEstimates pooled;                // over `adjusted`
  std::map<std::string, SiteModel> sites;
};

// Builds the model from a pooled or federated fit. `features` names the G
// columns the fit saw (ComBatResult::plan indexes them).
ComBatModel ModelFromFit(const ComBatResult& fit, const std::vector<std::string>& sites,
                         const std::vector<std::string>& features,
                         const std::vector<std::string>& covariates,
                         const ComBatOptions& options);

// JSON form ("format": "fedrad.combat.v1"); doubles round-trip exactly.
nlohmann::json ModelToJson(const ComBatModel& model);
// InvalidArgument naming the first bad or missing field.
absl::StatusOr<ComBatModel> ModelFromJson(const nlohmann::json& json);

// Estimates a new site's effects against the frozen pooled estimates
// (`data` holds the model's `features` then `covariates`, in model order).
// Errors as EstimateSiteEffects, annotated with the site.
absl::StatusOr<SiteModel> FitJoiningSite(const ComBatModel& model, const std::string& site,
                                         const SiteData& data);

// Harmonises `data` (rows of one site; columns = model.features and
// model.covariates). A site in the model uses its stored effects (the
// reference site's rows come back unchanged); an unknown site is first
// fitted with FitJoiningSite and added to *model. Returns the harmonised
// feature matrix (n x model.features.size()).
absl::StatusOr<Eigen::MatrixXd> HarmonizeWithModel(ComBatModel* model, const std::string& site,
                                                   const SiteData& data);

}  // namespace fedrad::harmonization

#endif  // FEDRAD_HARMONIZATION_MODEL_H_
