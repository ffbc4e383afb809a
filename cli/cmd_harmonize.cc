// `fedrad harmonize`: ComBat on one pooled table, or a stored model applied
// to new rows / new sites. See docs/harmonization.md.
#include <iostream>
#include <set>

#include "absl/strings/str_join.h"
#include "cli/command.h"
#include "core/csv.h"
#include "core/log.h"
#include "core/status.h"
#include "harmonization/model.h"
#include "harmonization/pooled_table.h"
#include "harmonization/table.h"

namespace {

using fedrad::harmonization::ComBatModel;

int Fail(const absl::Status& status) {
  std::cerr << "fedrad harmonize: " << status.message() << "\n";
  return 1;
}

int RunHarmonize(fedrad::cli::Args& args) {
  args.Describe(
      "Harmonises radiomic features across sites with ComBat (equal to R sva::ComBat). "
      "Without --model-in, fits ComBat to --input (one table, a site column) and writes the "
      "table with its features harmonised. With --model-in, applies a stored model instead: "
      "rows of a site in the model use its stored estimates (a new patient keeps his own "
      "covariates); a site not in the model is fitted against the frozen pooled estimates "
      "(nobody else is refitted) and added to the model written by --model-out.");
  const std::string input = args.Flag("input", "", "Input CSV (required)");
  const std::string site_column = args.Flag("site-column", "site", "Column naming the site");
  const std::string features = args.Flag(
      "features", "", "Regular expression selecting the feature columns, e.g. '^f[0-9]+$' "
                      "(required without --model-in)");
  const std::string covariates =
      args.Flag("covariates", "", "Comma-separated numeric covariates to preserve, e.g. age,sex");
  const std::string method =
      args.Flag("method", "parametric", "parametric | nonparametric | mean-only");
  const std::string reference =
      args.Flag("reference-site", "", "Site left unchanged, whose scale is the target");
  const bool no_eb = args.Bool("no-eb", "No empirical Bayes shrinkage of the site effects");
  const std::string exclude =
      args.Flag("exclude", "patient_id", "Comma-separated columns never treated as features");
  const std::string out = args.Flag("out", "", "Output CSV (required)");
  const std::string model_out = args.Flag("model-out", "", "Write the fitted model (JSON)");
  const std::string model_in = args.Flag("model-in", "", "Apply this stored model (JSON)");
  if (!args.Finish()) return args.exit_code();
  if (input.empty() || out.empty()) return args.UsageError("--input and --out are required");

  absl::StatusOr<fedrad::CsvTable> table = fedrad::ReadCsv(input);
  if (!table.ok()) return Fail(table.status());

  ComBatModel model;
  fedrad::CsvTable result;
  if (!model_in.empty()) {
    if (!features.empty() || !covariates.empty() || !reference.empty() || no_eb) {
      return args.UsageError(
          "--model-in takes features, covariates and options from the model; do not pass "
          "--features/--covariates/--reference-site/--no-eb");
    }
    absl::StatusOr<std::string> text = fedrad::ReadFileToString(model_in);
    if (!text.ok()) return Fail(text.status());
    nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    absl::StatusOr<ComBatModel> m = fedrad::harmonization::ModelFromJson(j);
    if (!m.ok()) return Fail(fedrad::Annotate(m.status(), model_in));
    model = *std::move(m);
    std::set<std::string> known;
    for (const auto& [site, s] : model.sites) known.insert(site);
    absl::StatusOr<fedrad::CsvTable> h =
        fedrad::harmonization::ApplyModelToTable(&model, *table, site_column);
    if (!h.ok()) return Fail(h.status());
    result = *std::move(h);
    for (const auto& [site, s] : model.sites) {
      if (!known.count(site)) {
        FEDRAD_LOG(INFO) << "site " << site << " harmonised against the frozen model ("
                         << s.n << " patients)";
      }
    }
  } else {
    if (features.empty()) return args.UsageError("--features is required without --model-in");
    fedrad::harmonization::PooledTableOptions opt;
    opt.site_column = site_column;
    opt.features_regex = features;
    opt.covariates = fedrad::harmonization::SplitList(covariates);
    opt.exclude = fedrad::harmonization::SplitList(exclude);
    absl::StatusOr<fedrad::harmonization::ComBatMethod> m =
        fedrad::harmonization::ParseMethod(method);
    if (!m.ok()) return args.UsageError(std::string(m.status().message()));
    opt.combat.method = *m;
    opt.combat.reference_site = reference;
    opt.combat.empirical_bayes = !no_eb;
    absl::StatusOr<fedrad::harmonization::PooledTableResult> r =
        fedrad::harmonization::HarmonizePooledTable(*table, opt);
    if (!r.ok()) return Fail(r.status());
    for (const std::string& note : r->notes) FEDRAD_LOG(WARNING) << note;
    FEDRAD_LOG(INFO) << "harmonised " << r->model.adjusted.size() << " feature(s) over "
                     << r->model.sites.size() << " site(s), " << table->num_rows()
                     << " rows (" << fedrad::harmonization::MethodName(opt.combat.method)
                     << (opt.combat.empirical_bayes ? "" : ", no EB") << ")";
    model = std::move(r->model);
    result = std::move(r->table);
  }
  absl::Status st = fedrad::WriteCsv(out, result);
  if (!st.ok()) return Fail(st);
  if (!model_out.empty()) {
    st = fedrad::WriteStringToFile(model_out,
                                   fedrad::harmonization::ModelToJson(model).dump(2) + "\n");
    if (!st.ok()) return Fail(st);
  }
  return 0;
}

FEDRAD_REGISTER_COMMAND("harmonize", "Harmonise features across sites with ComBat",
                        RunHarmonize);

}  // namespace
