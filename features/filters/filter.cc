#include "features/filters/filter.h"

#include <cmath>
#include <limits>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status.h"

namespace fedrad::features::filters {
namespace {

absl::Status Prefixed(const FilterSetting& f, const absl::Status& s) {
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat("filter '", FilterLabel(f), "': ", s.message()));
}

// The kind's parameters with the common padding / in_plane applied.
MeanParams Mean(const FilterSetting& f) {
  MeanParams p = f.mean;
  p.padding = f.padding;
  p.in_plane = f.in_plane;
  return p;
}
LoGParams LoG(const FilterSetting& f) {
  LoGParams p = f.log;
  p.padding = f.padding;
  p.in_plane = f.in_plane;
  return p;
}
LawsParams Laws(const FilterSetting& f) {
  LawsParams p = f.laws;
  p.padding = f.padding;
  p.in_plane = f.in_plane;
  return p;
}
GaborParams Gabor(const FilterSetting& f) {
  GaborParams p = f.gabor;
  p.padding = f.padding;
  return p;
}
WaveletParams Wavelet(const FilterSetting& f) {
  WaveletParams p;
  p.family = f.wavelet.family;
  p.decomposition = f.wavelet.decomposition;
  p.level = f.wavelet.level;
  p.rotation_invariant = f.wavelet.rotation_invariant;
  p.pooling = f.wavelet.max_pooling ? WaveletParams::Pooling::kMax : WaveletParams::Pooling::kMean;
  p.padding = f.padding;
  p.in_plane = f.in_plane;
  return p;
}
SimoncelliParams Simoncelli(const FilterSetting& f, const SimoncelliSetting& s) {
  SimoncelliParams p;
  p.level = s.level;
  p.padding = f.padding;
  p.in_plane = f.in_plane;
  return p;
}

// Riesz transform of the LoG or Simoncelli response (riesz.h takes the
// base map).
absl::StatusOr<ImageVolume> RieszOf(const ImageVolume& image, const FilterSetting& f) {
  absl::StatusOr<ImageVolume> base = absl::UnknownError("");
  if (f.riesz.base_is_log) {
    LoGParams p = f.riesz.log;
    p.padding = f.padding;
    p.in_plane = f.in_plane;
    base = LoGResponse(image, p);
  } else {
    base = SimoncelliResponse(image, Simoncelli(f, f.riesz.simoncelli));
  }
  if (!base.ok()) return base.status();
  RieszParams r;
  r.order = f.riesz.order;
  r.padding = f.padding;
  r.in_plane = f.in_plane;
  return RieszResponse(*base, r);
}

std::string PoolingName(bool max_pooling) { return max_pooling ? "max" : "mean"; }

}  // namespace

std::string FilterKindName(FilterKind kind) {
  switch (kind) {
    case FilterKind::kMean: return "mean";
    case FilterKind::kLoG: return "log";
    case FilterKind::kLaws: return "laws";
    case FilterKind::kGabor: return "gabor";
    case FilterKind::kWavelet: return "wavelet";
    case FilterKind::kSimoncelli: return "simoncelli";
    case FilterKind::kRiesz: return "riesz";
  }
  return "unknown";
}

std::string FilterLabel(const FilterSetting& f) {
  if (!f.label.empty()) return f.label;
  const std::string d2 = f.in_plane ? "_2d" : "";
  switch (f.kind) {
    case FilterKind::kMean:
      return absl::StrCat("mean_m", f.mean.support, d2);
    case FilterKind::kLoG: {
      std::string s = absl::StrCat("log_s", f.log.sigma_mm);
      if (f.log.truncation != 4.0) absl::StrAppend(&s, "_t", f.log.truncation);
      return s + d2;
    }
    case FilterKind::kLaws: {
      std::string s = absl::StrCat("laws_", absl::AsciiStrToLower(f.laws.kernel));
      if (f.laws.energy_distance > 0) absl::StrAppend(&s, "_d", f.laws.energy_distance);
      if (f.laws.rotation_invariant) absl::StrAppend(&s, "_ri", PoolingName(f.laws.max_pooling));
      return s;
    }
    case FilterKind::kGabor: {
      const GaborParams& g = f.gabor;
      std::string s = absl::StrCat("gabor_s", g.sigma_mm, "_l", g.lambda_mm, "_g", g.gamma);
      if (g.theta_step_deg > 0) {
        absl::StrAppend(&s, "_r", g.theta_step_deg, "_", PoolingName(g.max_pooling));
        if (g.theta_deg != 0) absl::StrAppend(&s, "_t", g.theta_deg);
      } else {
        absl::StrAppend(&s, "_t", g.theta_deg);
      }
      if (g.orthogonal_planes) absl::StrAppend(&s, "_3p");
      return s;
    }
    case FilterKind::kWavelet: {
      const WaveletSetting& w = f.wavelet;
      std::string s = absl::StrCat("wavelet_", absl::AsciiStrToLower(w.family), "_",
                                   absl::AsciiStrToLower(w.decomposition), "_l", w.level);
      if (w.rotation_invariant) absl::StrAppend(&s, "_ri", PoolingName(w.max_pooling));
      return s;
    }
    case FilterKind::kSimoncelli:
      return absl::StrCat("simoncelli_l", f.simoncelli.level, d2);
    case FilterKind::kRiesz: {
      const RieszSetting& r = f.riesz;
      std::string base = r.base_is_log ? absl::StrCat("log_s", r.log.sigma_mm)
                                       : absl::StrCat("simoncelli_l", r.simoncelli.level);
      return absl::StrCat("riesz_", base, "_", absl::StrJoin(r.order, ""), d2);
    }
  }
  return "filter";
}

absl::Status ValidateFilter(const FilterSetting& f) {
  for (char c : f.label) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_' || c == '.')) {
      return absl::InvalidArgumentError(absl::StrCat(
          "filter label '", f.label, "' may hold only a-z, 0-9, '_' and '.'"));
    }
  }
  // A label equal to a family id would make "<label>_<family>_..." read like
  // a feature of the unfiltered image.
  static const std::set<std::string> kReserved = {
      "morph", "loc", "stat", "ih", "ivh", "glcm", "glrlm", "glszm", "gldzm", "ngtdm",
      "ngldm", "patient"};
  if (kReserved.count(f.label)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "filter label '", f.label, "' is a feature family id; choose another"));
  }
  auto bad = [&](const std::string& m) {
    return absl::InvalidArgumentError(absl::StrCat("filter '", FilterLabel(f), "': ", m));
  };
  switch (f.kind) {
    case FilterKind::kMean:
      if (f.mean.support < 1 || f.mean.support % 2 == 0) {
        return bad(absl::StrCat("mean.support must be an odd number of voxels >= 1, got ",
                                f.mean.support));
      }
      return absl::OkStatus();
    case FilterKind::kLoG:
      if (!(f.log.sigma_mm > 0) || !std::isfinite(f.log.sigma_mm)) {
        return bad(absl::StrCat("log.sigma_mm must be > 0, got ", f.log.sigma_mm));
      }
      if (!(f.log.truncation > 0) || !std::isfinite(f.log.truncation)) {
        return bad("log.truncation must be > 0 (in sigma)");
      }
      return absl::OkStatus();
    case FilterKind::kLaws: {
      auto k = LawsKernels(f.laws.kernel, f.in_plane);
      if (!k.ok()) return Prefixed(f, k.status());
      if (f.laws.energy_distance < 0 || f.laws.energy_distance > kMaxEnergyDistance) {
        return bad(absl::StrCat("laws.energy_distance must be in [0, ", kMaxEnergyDistance, "]"));
      }
      return absl::OkStatus();
    }
    case FilterKind::kGabor: {
      const GaborParams& g = f.gabor;
      auto positive = [](double x) { return x > 0 && std::isfinite(x); };
      if (!positive(g.sigma_mm)) return bad("gabor.sigma_mm must be > 0");
      if (!positive(g.lambda_mm)) return bad("gabor.lambda_mm must be > 0");
      if (!positive(g.gamma)) return bad("gabor.gamma must be > 0");
      if (!positive(g.truncation)) return bad("gabor.truncation must be > 0");
      if (!std::isfinite(g.theta_deg) || !std::isfinite(g.theta_step_deg)) {
        return bad("gabor.theta_deg and theta_step_deg must be finite");
      }
      if (g.theta_step_deg < 0 || (g.theta_step_deg > 0 && g.theta_step_deg < 1)) {
        return bad("gabor.theta_step_deg must be 0 (one angle) or >= 1 degree");
      }
      if (g.orthogonal_planes && f.in_plane) {
        return bad("gabor.orthogonal_planes and in_plane exclude each other");
      }
      return absl::OkStatus();
    }
    case FilterKind::kWavelet: {
      const WaveletSetting& w = f.wavelet;
      if (!WaveletReach(Wavelet(f)).ok()) {
        return bad(absl::StrCat("wavelet.family '", w.family, "' is not one of ",
                                absl::StrJoin(WaveletFamilies(), ", ")));
      }
      const size_t dims = f.in_plane ? 2 : 3;
      const std::string d = absl::AsciiStrToUpper(w.decomposition);
      if (d.size() != dims || d.find_first_not_of("LH") != std::string::npos) {
        return bad(absl::StrCat("wavelet.decomposition '", w.decomposition, "' must be ", dims,
                                " letters L or H, x first (e.g. ",
                                dims == 3 ? "LHL" : "LH", ")"));
      }
      if (w.level < 1 || w.level > 8) return bad("wavelet.level must be in 1..8");
      return absl::OkStatus();
    }
    case FilterKind::kSimoncelli:
      if (f.simoncelli.level < 1 || f.simoncelli.level > 8) {
        return bad("simoncelli.level must be in 1..8");
      }
      return absl::OkStatus();
    case FilterKind::kRiesz: {
      const RieszSetting& r = f.riesz;
      if (r.base_is_log && !(r.log.sigma_mm > 0)) return bad("riesz.log.sigma_mm must be > 0");
      if (!r.base_is_log && (r.simoncelli.level < 1 || r.simoncelli.level > 8)) {
        return bad("riesz.simoncelli.level must be in 1..8");
      }
      if (f.in_plane && r.order[2] != 0) return bad("riesz.order along z must be 0 with in_plane");
      int sum = 0;
      for (int o : r.order) {
        if (o < 0) return bad("riesz.order values must be >= 0");
        sum += o;
      }
      if (sum == 0 || sum > 8) return bad("riesz.order must sum to 1..8");
      return absl::OkStatus();
    }
  }
  return bad("unknown filter kind");
}

absl::Status ValidateFilters(const std::vector<FilterSetting>& filters) {
  std::set<std::string> labels;
  for (const FilterSetting& f : filters) {
    FEDRAD_RETURN_IF_ERROR(ValidateFilter(f));
    if (!labels.insert(FilterLabel(f)).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "two filters are both named '", FilterLabel(f),
          "'; give one of them a distinct label"));
    }
  }
  return absl::OkStatus();
}

double FilterMarginMm(const FilterSetting& f, const std::array<double, 3>& spacing) {
  double margin = 0;
  const int dims = f.in_plane ? 2 : 3;
  for (int a = 0; a < dims; ++a) {
    double voxels = 0;
    switch (f.kind) {
      case FilterKind::kMean:
        voxels = f.mean.support / 2;
        break;
      case FilterKind::kLoG:
        voxels = LoGKernelSize(f.log.sigma_mm, f.log.truncation, spacing[a]) / 2;
        break;
      case FilterKind::kLaws:
        voxels = 2 + std::max(0, f.laws.energy_distance);
        break;
      case FilterKind::kGabor:
        voxels = GaborRadius(Gabor(f), spacing[a], std::numeric_limits<int>::max());
        break;
      case FilterKind::kWavelet: {
        auto reach = WaveletReach(Wavelet(f));
        if (!reach.ok()) return std::numeric_limits<double>::infinity();
        voxels = *reach;
        break;
      }
      default:
        // Simoncelli and Riesz are defined on the whole image (their
        // frequency grid depends on its size): no crop.
        return std::numeric_limits<double>::infinity();
    }
    margin = std::max(margin, (voxels + 1) * spacing[a]);
  }
  if (f.kind == FilterKind::kGabor && f.gabor.orthogonal_planes) {
    margin = std::max(margin, (GaborRadius(Gabor(f), spacing[2], std::numeric_limits<int>::max()) + 1) * spacing[2]);
  }
  return margin;
}

absl::StatusOr<ImageVolume> ApplyFilter(const ImageVolume& image, const FilterSetting& f) {
  FEDRAD_RETURN_IF_ERROR(ValidateFilter(f));
  absl::StatusOr<ImageVolume> out = absl::InternalError("unknown filter kind");
  switch (f.kind) {
    case FilterKind::kMean:
      out = MeanResponse(image, Mean(f));
      break;
    case FilterKind::kLoG:
      out = LoGResponse(image, LoG(f));
      break;
    case FilterKind::kLaws:
      out = LawsResponse(image, Laws(f));
      break;
    case FilterKind::kGabor:
      out = GaborResponse(image, Gabor(f));
      break;
    case FilterKind::kWavelet:
      out = WaveletResponse(image, Wavelet(f));
      break;
    case FilterKind::kSimoncelli:
      out = SimoncelliResponse(image, Simoncelli(f, f.simoncelli));
      break;
    case FilterKind::kRiesz:
      out = RieszOf(image, f);
      break;
  }
  if (!out.ok()) return Prefixed(f, out.status());
  return out;
}

absl::Status ApplyFilters(
    const ImageVolume& image, const std::vector<FilterSetting>& filters,
    const std::function<absl::Status(size_t index, ImageVolume map)>& each) {
  // Wavelet filters that differ only in their decomposition: one group,
  // computed when its first member comes up.
  auto group_key = [](const FilterSetting& f) {
    const WaveletSetting& w = f.wavelet;
    return absl::StrCat(absl::AsciiStrToLower(w.family), "|", w.level, "|",
                        w.rotation_invariant, w.max_pooling, "|", PaddingName(f.padding), "|",
                        f.in_plane);
  };
  std::vector<ImageVolume> ready(filters.size());
  std::vector<bool> have(filters.size(), false);
  for (size_t i = 0; i < filters.size(); ++i) {
    const FilterSetting& f = filters[i];
    if (!have[i] && f.kind == FilterKind::kWavelet) {
      std::vector<size_t> members;
      std::vector<std::string> decompositions;
      for (size_t j = i; j < filters.size(); ++j) {
        if (filters[j].kind == FilterKind::kWavelet && !have[j] &&
            group_key(filters[j]) == group_key(f)) {
          FEDRAD_RETURN_IF_ERROR(ValidateFilter(filters[j]));
          members.push_back(j);
          decompositions.push_back(filters[j].wavelet.decomposition);
        }
      }
      if (members.size() > 1) {
        auto maps = WaveletResponses(image, Wavelet(f), decompositions);
        if (!maps.ok()) return Prefixed(f, maps.status());
        for (size_t m = 0; m < members.size(); ++m) {
          ready[members[m]] = std::move((*maps)[m]);
          have[members[m]] = true;
        }
      }
    }
    if (have[i]) {
      FEDRAD_RETURN_IF_ERROR(each(i, std::move(ready[i])));
      ready[i] = ImageVolume{};
      continue;
    }
    FEDRAD_ASSIGN_OR_RETURN(ImageVolume map, ApplyFilter(image, f));
    FEDRAD_RETURN_IF_ERROR(each(i, std::move(map)));
  }
  return absl::OkStatus();
}

}  // namespace fedrad::features::filters
