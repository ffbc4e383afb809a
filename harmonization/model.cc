#include "harmonization/model.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace fedrad::harmonization {
namespace {

constexpr char kFormat[] = "fedrad.combat.v1";

nlohmann::json VectorJson(const Eigen::VectorXd& v) {
  return std::vector<double>(v.data(), v.data() + v.size());
}

absl::StatusOr<Eigen::VectorXd> VectorFrom(const nlohmann::json& j, const std::string& name,
                                           size_t size) {
  if (!j.contains(name) || !j[name].is_array() || j[name].size() != size) {
    return absl::InvalidArgumentError(
        absl::StrCat("ComBat model: '", name, "' must be an array of ", size, " numbers"));
  }
  Eigen::VectorXd v(size);
  for (size_t i = 0; i < size; ++i) {
    if (!j[name][i].is_number()) {
      return absl::InvalidArgumentError(
          absl::StrCat("ComBat model: '", name, "'[", i, "] is not a number"));
    }
    v(i) = j[name][i].get<double>();
  }
  return v;
}

template <typename T>
absl::StatusOr<T> Field(const nlohmann::json& j, const std::string& name) {
  if (!j.contains(name)) {
    return absl::InvalidArgumentError(absl::StrCat("ComBat model: missing '", name, "'"));
  }
  try {
    return j[name].get<T>();
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("ComBat model: '", name, "' has the wrong type: ", e.what()));
  }
}

}  // namespace

ComBatModel ModelFromFit(const ComBatResult& fit, const std::vector<std::string>& sites,
                         const std::vector<std::string>& features,
                         const std::vector<std::string>& covariates,
                         const ComBatOptions& options) {
  ComBatModel model;
  model.options = options;
  model.mean_only = fit.plan.mean_only;
  model.features = features;
  for (int g : fit.plan.adjusted_features) model.adjusted.push_back(features[g]);
  model.covariates = covariates;
  model.pooled = fit.pooled;
  for (size_t i = 0; i < sites.size(); ++i) {
    SiteModel& s = model.sites[sites[i]];
    s.n = fit.regression.site_n[i];
    s.gamma_star = fit.effects[i].gamma_star;
    s.delta_star = fit.effects[i].delta_star;
  }
  return model;
}

nlohmann::json ModelToJson(const ComBatModel& model) {
  nlohmann::json j;
  j["format"] = kFormat;
  j["method"] = std::string(MethodName(model.options.method));
  j["empirical_bayes"] = model.options.empirical_bayes;
  j["nonparametric_mean_only"] = model.options.nonparametric_mean_only;
  j["reference_site"] = model.options.reference_site;
  j["mean_only"] = model.mean_only;
  j["features"] = model.features;
  j["adjusted_features"] = model.adjusted;
  j["covariates"] = model.covariates;
  j["grand_mean"] = VectorJson(model.pooled.grand_mean);
  j["var_pooled"] = VectorJson(model.pooled.var_pooled);
  nlohmann::json beta = nlohmann::json::object();
  for (size_t c = 0; c < model.covariates.size(); ++c) {
    beta[model.covariates[c]] = VectorJson(model.pooled.beta.row(c).transpose());
  }
  j["beta"] = beta;
  nlohmann::json sites = nlohmann::json::object();
  for (const auto& [name, s] : model.sites) {
    sites[name] = {{"n", s.n},
                   {"gamma_star", VectorJson(s.gamma_star)},
                   {"delta_star", VectorJson(s.delta_star)},
                   {"joined_after_fit", s.joined_after_fit}};
  }
  j["sites"] = sites;
  return j;
}

absl::StatusOr<ComBatModel> ModelFromJson(const nlohmann::json& j) {
  if (!j.is_object() || j.value("format", "") != kFormat) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a ComBat model (expected \"format\": \"", kFormat, "\")"));
  }
  ComBatModel m;
  FEDRAD_ASSIGN_OR_RETURN(std::string method, Field<std::string>(j, "method"));
  FEDRAD_ASSIGN_OR_RETURN(m.options.method, ParseMethod(method));
  FEDRAD_ASSIGN_OR_RETURN(m.options.empirical_bayes, Field<bool>(j, "empirical_bayes"));
  m.options.nonparametric_mean_only = j.value("nonparametric_mean_only", false);
  FEDRAD_ASSIGN_OR_RETURN(m.options.reference_site, Field<std::string>(j, "reference_site"));
  FEDRAD_ASSIGN_OR_RETURN(m.mean_only, Field<bool>(j, "mean_only"));
  FEDRAD_ASSIGN_OR_RETURN(m.features, Field<std::vector<std::string>>(j, "features"));
  FEDRAD_ASSIGN_OR_RETURN(m.adjusted, Field<std::vector<std::string>>(j, "adjusted_features"));
  FEDRAD_ASSIGN_OR_RETURN(m.covariates, Field<std::vector<std::string>>(j, "covariates"));
  const size_t g = m.adjusted.size();
  FEDRAD_ASSIGN_OR_RETURN(m.pooled.grand_mean, VectorFrom(j, "grand_mean", g));
  FEDRAD_ASSIGN_OR_RETURN(m.pooled.var_pooled, VectorFrom(j, "var_pooled", g));
  m.pooled.beta.resize(m.covariates.size(), g);
  if (!j.contains("beta") || !j["beta"].is_object()) {
    return absl::InvalidArgumentError("ComBat model: missing 'beta'");
  }
  for (size_t c = 0; c < m.covariates.size(); ++c) {
    FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd row, VectorFrom(j["beta"], m.covariates[c], g));
    m.pooled.beta.row(c) = row.transpose();
  }
  if (!j.contains("sites") || !j["sites"].is_object()) {
    return absl::InvalidArgumentError("ComBat model: missing 'sites'");
  }
  for (const auto& [name, s] : j["sites"].items()) {
    SiteModel sm;
    sm.n = s.value("n", int64_t{0});
    sm.joined_after_fit = s.value("joined_after_fit", false);
    FEDRAD_ASSIGN_OR_RETURN(sm.gamma_star, VectorFrom(s, "gamma_star", g));
    FEDRAD_ASSIGN_OR_RETURN(sm.delta_star, VectorFrom(s, "delta_star", g));
    m.sites[name] = std::move(sm);
  }
  return m;
}

namespace {
std::vector<int> AdjustedIndices(const ComBatModel& model) {
  std::vector<int> idx;
  for (const std::string& a : model.adjusted) {
    idx.push_back(static_cast<int>(
        std::find(model.features.begin(), model.features.end(), a) - model.features.begin()));
  }
  return idx;
}
}  // namespace

absl::StatusOr<SiteModel> FitJoiningSite(const ComBatModel& model, const std::string& site,
                                         const SiteData& data) {
  const SiteData adjusted = SelectFeatures(data, AdjustedIndices(model));
  const Eigen::MatrixXd s = Standardize(adjusted, model.pooled);
  absl::StatusOr<SiteEffects> eff = EstimateSiteEffects(s, model.options, model.mean_only);
  if (!eff.ok()) {
    return Annotate(eff.status(), absl::StrCat("site ", site, " (joining the frozen model)"));
  }
  SiteModel sm;
  sm.n = data.features.rows();
  sm.gamma_star = eff->gamma_star;
  sm.delta_star = eff->delta_star;
  sm.joined_after_fit = true;
  return sm;
}

absl::StatusOr<Eigen::MatrixXd> HarmonizeWithModel(ComBatModel* model, const std::string& site,
                                                   const SiteData& data) {
  if (static_cast<size_t>(data.features.cols()) != model->features.size() ||
      static_cast<size_t>(data.covariates.cols()) != model->covariates.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "site ", site, ": the model expects ", model->features.size(), " features and ",
        model->covariates.size(), " covariates"));
  }
  auto it = model->sites.find(site);
  if (it == model->sites.end()) {
    FEDRAD_ASSIGN_OR_RETURN(SiteModel sm, FitJoiningSite(*model, site, data));
    it = model->sites.emplace(site, std::move(sm)).first;
  }
  Eigen::MatrixXd out = data.features;
  if (site == model->options.reference_site) return out;  // sva: the reference is unchanged
  const std::vector<int> idx = AdjustedIndices(*model);
  const Eigen::MatrixXd h = ApplySiteEffects(SelectFeatures(data, idx), model->pooled,
                                             it->second.gamma_star, it->second.delta_star);
  for (size_t j = 0; j < idx.size(); ++j) out.col(idx[j]) = h.col(j);
  return out;
}

}  // namespace fedrad::harmonization
