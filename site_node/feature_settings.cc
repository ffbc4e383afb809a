#include "site_node/feature_settings.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/csv.h"
#include "core/status.h"
#include "proto/feature_settings.pb.h"

namespace fedrad::cli {
namespace {

using features::Discretisation;
using features::Interpolator;
using v1::FeatureSettings;

class Collector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (first.empty()) first = absl::StrCat("line ", line + 1, ", column ", column + 1, ": ", message);
  }
  std::string first;
};

Interpolator ToInterpolator(FeatureSettings::Interpolator i) {
  switch (i) {
    case FeatureSettings::NEAREST: return Interpolator::kNearest;
    case FeatureSettings::BSPLINE3: return Interpolator::kBSpline3;
    default: return Interpolator::kLinear;
  }
}

absl::StatusOr<Discretisation> ToDiscretisation(const FeatureSettings::Discretisation& d,
                                                const std::string& field) {
  Discretisation out;
  switch (d.method_case()) {
    case FeatureSettings::Discretisation::kBinCount:
      if (d.bin_count() < 1) return absl::InvalidArgumentError(absl::StrCat(field, ".bin_count must be >= 1"));
      out.method = Discretisation::Method::kFixedBinNumber;
      out.bin_count = d.bin_count();
      return out;
    case FeatureSettings::Discretisation::kBinWidth:
      if (!(d.bin_width() > 0)) return absl::InvalidArgumentError(absl::StrCat(field, ".bin_width must be > 0"));
      out.method = Discretisation::Method::kFixedBinSize;
      out.bin_width = d.bin_width();
      return out;
    case FeatureSettings::Discretisation::kNone:
      out.method = Discretisation::Method::kNone;
      return out;
    default:
      return absl::InvalidArgumentError(absl::StrCat(field, " needs bin_count, bin_width or none"));
  }
}

using features::filters::FilterKind;
using features::filters::FilterSetting;
using features::filters::Padding;
using v1::Filter;

Padding ToPadding(Filter::Padding p) {
  switch (p) {
    case Filter::CONSTANT: return Padding::kConstant;
    case Filter::NEAREST: return Padding::kNearest;
    case Filter::PERIODIC: return Padding::kPeriodic;
    default: return Padding::kMirror;
  }
}

// fedrad.v1.Filter -> FilterSetting. `where` names the entry ("filters[2]").
absl::StatusOr<FilterSetting> ToFilter(const Filter& in, const std::string& where) {
  FilterSetting f;
  f.label = in.label();
  f.padding = ToPadding(in.padding());
  f.in_plane = in.in_plane();
  switch (in.kind_case()) {
    case Filter::kMean:
      f.kind = FilterKind::kMean;
      f.mean.support = in.mean().support();
      break;
    case Filter::kLog:
      f.kind = FilterKind::kLoG;
      f.log.sigma_mm = in.log().sigma_mm();
      if (in.log().has_truncation()) f.log.truncation = in.log().truncation();
      break;
    case Filter::kLaws:
      f.kind = FilterKind::kLaws;
      f.laws.kernel = in.laws().kernel();
      f.laws.energy_distance = in.laws().energy_distance();
      f.laws.rotation_invariant = in.laws().rotation_invariant();
      f.laws.max_pooling = in.laws().pooling() != Filter::MEAN;
      break;
    case Filter::kGabor: {
      const Filter::Gabor& g = in.gabor();
      f.kind = FilterKind::kGabor;
      f.gabor.sigma_mm = g.sigma_mm();
      f.gabor.lambda_mm = g.lambda_mm();
      f.gabor.gamma = g.gamma();
      f.gabor.theta_deg = g.theta_deg();
      f.gabor.theta_step_deg = g.theta_step_deg();
      f.gabor.max_pooling = g.pooling() == Filter::MAX;
      f.gabor.orthogonal_planes = g.orthogonal_planes();
      if (g.has_truncation()) f.gabor.truncation = g.truncation();
      break;
    }
    case Filter::kWavelet: {
      const Filter::Wavelet& w = in.wavelet();
      f.kind = FilterKind::kWavelet;
      f.wavelet.family = w.family();
      f.wavelet.decomposition = w.decomposition();
      f.wavelet.level = w.level() == 0 ? 1 : w.level();
      f.wavelet.rotation_invariant = w.rotation_invariant();
      f.wavelet.max_pooling = w.pooling() == Filter::MAX;
      break;
    }
    case Filter::kSimoncelli:
      f.kind = FilterKind::kSimoncelli;
      f.simoncelli.level = in.simoncelli().level();
      break;
    case Filter::kRiesz: {
      const Filter::Riesz& r = in.riesz();
      f.kind = FilterKind::kRiesz;
      if (r.has_log()) {
        f.riesz.log.sigma_mm = r.log().sigma_mm();
        if (r.log().has_truncation()) f.riesz.log.truncation = r.log().truncation();
      } else if (r.has_simoncelli()) {
        f.riesz.base_is_log = false;
        f.riesz.simoncelli.level = r.simoncelli().level();
      } else {
        return absl::InvalidArgumentError(absl::StrCat(where, ".riesz needs log or simoncelli"));
      }
      if (r.order_size() != 3) {
        return absl::InvalidArgumentError(absl::StrCat(where, ".riesz.order needs 3 values"));
      }
      for (int a = 0; a < 3; ++a) f.riesz.order[a] = r.order(a);
      break;
    }
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          where, " names no filter (mean, log, laws, gabor, wavelet, simoncelli or riesz)"));
  }
  absl::Status s = features::filters::ValidateFilter(f);
  if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(where, ": ", s.message()));
  return f;
}

absl::Status ToFilters(const FeatureSettings& s, std::vector<FilterSetting>* out) {
  out->clear();
  for (int i = 0; i < s.filters_size(); ++i) {
    FEDRAD_ASSIGN_OR_RETURN(FilterSetting f,
                            ToFilter(s.filters(i), absl::StrCat("filters[", i, "]")));
    out->push_back(std::move(f));
  }
  return features::filters::ValidateFilters(*out);
}

// One `--filter` entry "kind:key=value,key=value" as protobuf text of a
// fedrad.v1.Filter: label, padding and in_plane belong to the filter,
// the other keys to its kind's message (riesz: sigma_mm/truncation -> log,
// level -> simoncelli, order=1/0/0).
absl::StatusOr<std::string> FilterOverrideText(absl::string_view entry) {
  const size_t colon = entry.find(':');
  const std::string kind(absl::StripAsciiWhitespace(entry.substr(0, colon)));
  static const std::set<std::string> kKinds = {"mean",    "log",        "laws", "gabor",
                                               "wavelet", "simoncelli", "riesz"};
  if (!kKinds.count(kind)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--filter: unknown filter '", kind,
        "' (known: mean, log, laws, gabor, wavelet, simoncelli, riesz)"));
  }
  std::string outer, inner, base;
  if (colon != absl::string_view::npos) {
    for (absl::string_view kv : absl::StrSplit(entry.substr(colon + 1), ',', absl::SkipWhitespace())) {
      std::vector<std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
      if (p.size() != 2) {
        return absl::InvalidArgumentError(
            absl::StrCat("--filter ", kind, ": '", kv, "' is not key=value"));
      }
      std::string key(absl::StripAsciiWhitespace(p[0])), value(absl::StripAsciiWhitespace(p[1]));
      for (char c : key + value) {
        if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-' && c != '/') {
          return absl::InvalidArgumentError(
              absl::StrCat("--filter ", kind, ": bad character in '", kv, "'"));
        }
      }
      if (key == "padding" || key == "pooling") value = absl::AsciiStrToUpper(value);
      if (key == "label" || key == "kernel" || key == "family" || key == "decomposition") {
        value = absl::StrCat("\"", value, "\"");
      }
      if (key == "order") value = absl::StrCat("[", absl::StrReplaceAll(value, {{"/", ","}}), "]");
      const std::string field = absl::StrCat(key, ": ", value, " ");
      if (key == "label" || key == "padding" || key == "in_plane") {
        outer += field;
      } else if (kind == "riesz" && (key == "sigma_mm" || key == "truncation")) {
        base = absl::StrCat("log { ", base, field, "} ");
      } else if (kind == "riesz" && key == "level") {
        base = absl::StrCat("simoncelli { ", field, "} ");
      } else {
        inner += field;
      }
    }
  }
  return absl::StrCat("filters { ", outer, kind, " { ", base, inner, "} }");
}

// Every parameter of every filter, in order (part of the fingerprint).
std::string DescribeFilters(const std::vector<FilterSetting>& filters) {
  std::string out;
  for (const FilterSetting& f : filters) {
    const auto& g = f.gabor;
    const auto& w = f.wavelet;
    const auto& r = f.riesz;
    absl::StrAppend(
        &out, "[", features::filters::FilterKindName(f.kind), ":",
        features::filters::FilterLabel(f), ":", features::filters::PaddingName(f.padding), ":",
        f.in_plane, ":", f.mean.support, ":", FormatNumber(f.log.sigma_mm), ":",
        FormatNumber(f.log.truncation), ":", f.laws.kernel, ":", f.laws.energy_distance, ":",
        f.laws.rotation_invariant, f.laws.max_pooling, ":", FormatNumber(g.sigma_mm), ":",
        FormatNumber(g.lambda_mm), ":", FormatNumber(g.gamma), ":", FormatNumber(g.theta_deg),
        ":", FormatNumber(g.theta_step_deg), ":", g.max_pooling, g.orthogonal_planes, ":",
        FormatNumber(g.truncation), ":", w.family, ":", w.decomposition, ":", w.level, ":",
        w.rotation_invariant, w.max_pooling, ":", f.simoncelli.level, ":", r.base_is_log, ":",
        FormatNumber(r.log.sigma_mm), ":", FormatNumber(r.log.truncation), ":",
        r.simoncelli.level, ":", absl::StrJoin(r.order, ","), "]");
  }
  return out;
}

// A canonical description of the effective options (cache fingerprint).
std::string Describe(const features::CaseOptions& o) {
  const auto& e = o.extraction;
  auto range = [](const features::IntensityRange& r) {
    return absl::StrCat(r.min ? absl::StrCat(*r.min) : "-inf", ",", r.max ? absl::StrCat(*r.max) : "inf");
  };
  auto disc = [](const Discretisation& d) {
    return absl::StrCat(static_cast<int>(d.method), ":", d.bin_count, ":", FormatNumber(d.bin_width));
  };
  return absl::StrCat(
      "resampling=", e.resampling.enabled, ":", absl::StrJoin(e.resampling.spacing, ","), ":",
      static_cast<int>(e.resampling.image_interpolator), ":",
      static_cast<int>(e.resampling.mask_interpolator), ":",
      FormatNumber(e.resampling.partial_volume_threshold), ":", e.resampling.round_intensities,
      "\nround=", e.round_intensities, "\nreseg=", range(e.resegmentation),
      "\noutlier=", FormatNumber(e.outlier_sigma), "\ndisc=", disc(e.discretisation),
      "\nivh=", disc(e.ivh_discretisation), "\nfamilies=", absl::StrJoin(e.families, ","),
      "\ntexture=", e.texture_2d, e.texture_25d, e.texture_3d, ":", e.glcm_distance, ":",
      e.ngtdm_distance, ":", e.ngldm_distance, ":", e.ngldm_alpha, ":", e.glcm_symmetric,
      "\nmorph=", e.morphology.spatial_autocorrelation_max_voxels, ":",
      e.morphology.spatial_autocorrelation_repeats, ":", e.morphology.seed, ":",
      e.morphology.spatial_autocorrelation_direct_max_voxels, ":",
      e.morphology.spatial_autocorrelation_fft_max_cells, ":",
      e.morphology.spatial_autocorrelation_sample_voxels,
      "\nloc=", FormatNumber(e.local_intensity_radius_mm),
      "\nregions=", static_cast<int>(o.regions.split), ":", o.regions.each_lesion, ":",
      o.regions.all_lesions, ":", o.regions.liver, ":", o.regions.bkg, ":",
      FormatNumber(o.regions.bkg_margin_mm), ":", o.largest_lesion, ":", o.patient, "\n",
      "original=", e.original, "\nfilters=", DescribeFilters(e.filters), "\n");
}

}  // namespace

absl::StatusOr<FeatureSettingsBundle> ParseFeatureSettings(const std::string& text,
                                                           const std::string& source) {
  FeatureSettings s;
  google::protobuf::TextFormat::Parser parser;
  Collector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, &s)) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", errors.first));
  }
  auto bad = [&](const std::string& m) { return absl::InvalidArgumentError(absl::StrCat(source, ": ", m)); };
  FeatureSettingsBundle b;
  features::ExtractionOptions& e = b.options.extraction;
  if (s.has_resampling()) {
    const auto& r = s.resampling();
    if (r.spacing_mm_size() != 3) return bad("resampling.spacing_mm needs exactly 3 values");
    e.resampling.enabled = true;
    for (int d = 0; d < 3; ++d) {
      if (r.spacing_mm(d) < 0) return bad("resampling.spacing_mm must be >= 0");
      e.resampling.spacing[d] = r.spacing_mm(d);
    }
    e.resampling.image_interpolator = ToInterpolator(r.image_interpolator());
    e.resampling.mask_interpolator = ToInterpolator(r.mask_interpolator());
    if (r.has_partial_volume_threshold()) e.resampling.partial_volume_threshold = r.partial_volume_threshold();
    if (r.has_round_intensities()) e.resampling.round_intensities = r.round_intensities();
  }
  if (s.has_round_intensities()) e.round_intensities = s.round_intensities();
  if (s.has_resegmentation()) {
    e.resegmentation = {};
    if (s.resegmentation().has_min()) e.resegmentation.min = s.resegmentation().min();
    if (s.resegmentation().has_max()) e.resegmentation.max = s.resegmentation().max();
    if (e.resegmentation.min && e.resegmentation.max && *e.resegmentation.min > *e.resegmentation.max) {
      return bad("resegmentation.min > resegmentation.max");
    }
  }
  if (s.outlier_sigma() < 0) return bad("outlier_sigma must be >= 0");
  e.outlier_sigma = s.outlier_sigma();
  if (s.has_discretisation()) {
    auto d = ToDiscretisation(s.discretisation(), "discretisation");
    if (!d.ok()) return bad(std::string(d.status().message()));
    e.discretisation = *d;
  }
  if (s.has_ivh_discretisation()) {
    auto d = ToDiscretisation(s.ivh_discretisation(), "ivh_discretisation");
    if (!d.ok()) return bad(std::string(d.status().message()));
    e.ivh_discretisation = *d;
  }
  for (const auto& f : s.families()) e.families.insert(f);
  absl::Status fam = features::ValidateFamilies(e.families);
  if (!fam.ok()) return bad(std::string(fam.message()));
  if (s.has_texture()) {
    const auto& t = s.texture();
    if (t.has_aggregation_2d()) e.texture_2d = t.aggregation_2d();
    if (t.has_aggregation_25d()) e.texture_25d = t.aggregation_25d();
    if (t.has_aggregation_3d()) e.texture_3d = t.aggregation_3d();
    if (t.has_glcm_distance()) e.glcm_distance = t.glcm_distance();
    if (t.has_ngtdm_distance()) e.ngtdm_distance = t.ngtdm_distance();
    if (t.has_ngldm_distance()) e.ngldm_distance = t.ngldm_distance();
    if (t.has_ngldm_alpha()) e.ngldm_alpha = t.ngldm_alpha();
    if (t.has_glcm_symmetric()) e.glcm_symmetric = t.glcm_symmetric();
    if (e.glcm_distance < 1 || e.ngtdm_distance < 1 || e.ngldm_distance < 1 || e.ngldm_alpha < 0) {
      return bad("texture distances must be >= 1 and ngldm_alpha >= 0");
    }
  }
  if (s.has_morphology()) {
    const auto& m = s.morphology();
    if (m.has_spatial_autocorrelation_max_voxels()) {
      e.morphology.spatial_autocorrelation_max_voxels = m.spatial_autocorrelation_max_voxels();
    }
    if (m.has_spatial_autocorrelation_fft_max_cells()) {
      e.morphology.spatial_autocorrelation_fft_max_cells = m.spatial_autocorrelation_fft_max_cells();
    }
    if (m.has_spatial_autocorrelation_sample_voxels()) {
      e.morphology.spatial_autocorrelation_sample_voxels = m.spatial_autocorrelation_sample_voxels();
    }
    if (m.has_spatial_autocorrelation_repeats()) {
      e.morphology.spatial_autocorrelation_repeats = m.spatial_autocorrelation_repeats();
    }
  }
  if (s.has_local_intensity_radius_mm()) {
    if (!(s.local_intensity_radius_mm() > 0)) return bad("local_intensity_radius_mm must be > 0");
    e.local_intensity_radius_mm = s.local_intensity_radius_mm();
  }
  if (s.has_regions()) {
    const auto& r = s.regions();
    auto& ro = b.options.regions;
    switch (r.lesion_split()) {
      case FeatureSettings::Regions::LABELS: ro.split = features::RegionOptions::LesionSplit::kLabels; break;
      case FeatureSettings::Regions::CONNECTED_COMPONENTS:
        ro.split = features::RegionOptions::LesionSplit::kConnectedComponents;
        break;
      default: ro.split = features::RegionOptions::LesionSplit::kAuto;
    }
    if (r.has_each_lesion()) ro.each_lesion = r.each_lesion();
    if (r.has_all_lesions()) ro.all_lesions = r.all_lesions();
    if (r.has_liver()) ro.liver = r.liver();
    if (r.has_bkg()) ro.bkg = r.bkg();
    if (r.bkg_margin_mm() < 0) return bad("regions.bkg_margin_mm must be >= 0");
    ro.bkg_margin_mm = r.bkg_margin_mm();
    if (r.has_largest_lesion()) b.options.largest_lesion = r.largest_lesion();
    if (r.has_patient()) b.options.patient = r.patient();
  }
  if (s.has_original()) e.original = s.original();
  if (absl::Status f = ToFilters(s, &e.filters); !f.ok()) return bad(std::string(f.message()));
  if (!e.original && e.filters.empty()) return bad("original: false needs at least one filter");
  b.fingerprint = Describe(b.options);
  return b;
}

absl::StatusOr<FeatureSettingsBundle> LoadFeatureSettings(const std::string& path) {
  FEDRAD_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParseFeatureSettings(text, path);
}

absl::Status ApplyOverrides(const FeatureOverrides& o, FeatureSettingsBundle* b) {
  auto& e = b->options.extraction;
  if (!o.families.empty()) {
    e.families.clear();
    for (absl::string_view f : absl::StrSplit(o.families, ',', absl::SkipWhitespace())) {
      e.families.insert(std::string(f));
    }
    FEDRAD_RETURN_IF_ERROR(features::ValidateFamilies(e.families));
  }
  if (o.bin_count > 0 && o.bin_width > 0) {
    return absl::InvalidArgumentError("give --bin-count or --bin-width, not both");
  }
  if (o.bin_count > 0) {
    e.discretisation.method = Discretisation::Method::kFixedBinNumber;
    e.discretisation.bin_count = o.bin_count;
  }
  if (o.bin_width > 0) {
    e.discretisation.method = Discretisation::Method::kFixedBinSize;
    e.discretisation.bin_width = o.bin_width;
  }
  if (!o.filters.empty()) {
    std::string text;
    for (absl::string_view entry : absl::StrSplit(o.filters, ';', absl::SkipWhitespace())) {
      FEDRAD_ASSIGN_OR_RETURN(std::string t, FilterOverrideText(entry));
      absl::StrAppend(&text, t, "\n");
    }
    FeatureSettings s;
    google::protobuf::TextFormat::Parser parser;
    Collector errors;
    parser.RecordErrorsTo(&errors);
    if (!parser.ParseFromString(text, &s)) {
      return absl::InvalidArgumentError(absl::StrCat("--filter '", o.filters, "': ", errors.first,
                                                     " (as settings text: ", text, ")"));
    }
    FEDRAD_RETURN_IF_ERROR(ToFilters(s, &e.filters));
  }
  b->fingerprint = Describe(b->options);
  return absl::OkStatus();
}

}  // namespace fedrad::cli
