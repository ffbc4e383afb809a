#include "synth/internal/phantom.h"

#include <algorithm>
#include <cmath>

namespace fedrad::synth_internal {
namespace {

// Attenuation of the background tissues (portal-venous phase, HU).
constexpr double kAirHu = -1000;
constexpr double kFatHu = -100;
constexpr double kSoftTissueHu = 40;
constexpr double kCorticalBoneHu = 700;
constexpr double kCancellousBoneHu = 230;
constexpr double kAortaHu = 165;
constexpr double kKidneyHu = 150;
constexpr double kBowelWallHu = 45;
constexpr double kBowelContentHu = 15;
constexpr double kBowelGasHu = -850;
constexpr double kNecrosisHu = 18;
// Correlation lengths (Gaussian sigma, mm) of the two texture fields.
constexpr double kFineTextureSigmaMm = 0.7;
constexpr double kCoarseTextureSigmaMm = 2.0;
// Largest sub-slice used to integrate the slice profile.
constexpr double kMaxSubSliceMm = 1.25;
// Lesion centres stay this far (mm) from the volume's top and bottom.
constexpr double kHalfZLimitMm = 28;

double Clamp(double v, double lo, double hi) { return std::max(lo, std::min(hi, v)); }

double SmoothStep(double e0, double e1, double x) {
  const double t = Clamp((x - e0) / (e1 - e0), 0.0, 1.0);
  return t * t * (3 - 2 * t);
}

double Norm(const Vec3& v) { return std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]); }

bool InEllipse(double x, double y, double cx, double cy, double a, double b) {
  const double dx = (x - cx) / a, dy = (y - cy) / b;
  return dx * dx + dy * dy < 1.0;
}

// A discrete Gaussian kernel of `sigma` samples, normalised to sum 1; a
// sigma below 0.05 samples is the identity.
std::vector<double> GaussianKernel(double sigma) {
  if (sigma < 0.05) return {1.0};
  const int radius = std::max(1, static_cast<int>(std::ceil(3.0 * sigma)));
  std::vector<double> w(2 * radius + 1);
  double sum = 0;
  for (int i = -radius; i <= radius; ++i) {
    w[i + radius] = std::exp(-0.5 * i * i / (sigma * sigma));
    sum += w[i + radius];
  }
  for (double& v : w) v /= sum;
  return w;
}

double SumOfSquares(const std::vector<double>& w) {
  double s = 0;
  for (double v : w) s += v * v;
  return s;
}

// A stationary Gaussian random field with unit variance on a `dims` box:
// white noise on a box padded by the kernel radii, convolved (valid part
// only) with a separable Gaussian of `sigma` samples per axis, divided by the
// exact standard deviation of the filter output, sqrt(prod_axis sum w^2).
std::vector<float> GaussianField(const std::array<int, 3>& dims,
                                 const std::array<double, 3>& sigma, Rng& rng) {
  std::array<std::vector<double>, 3> k;
  std::array<int, 3> pad, p;
  double var = 1;
  for (int a = 0; a < 3; ++a) {
    k[a] = GaussianKernel(sigma[a]);
    pad[a] = static_cast<int>(k[a].size()) / 2;
    p[a] = dims[a] + 2 * pad[a];
    var *= SumOfSquares(k[a]);
  }
  std::vector<float> buf(static_cast<size_t>(p[0]) * p[1] * p[2]);
  for (float& v : buf) v = static_cast<float>(rng.Normal());
  // Convolve along x, then y, then z, shrinking each axis to `dims`.
  std::array<int, 3> cur = p;
  for (int a = 0; a < 3; ++a) {
    std::array<int, 3> next = cur;
    next[a] = dims[a];
    std::vector<float> out(static_cast<size_t>(next[0]) * next[1] * next[2]);
    const std::array<size_t, 3> in_stride{1, static_cast<size_t>(cur[0]),
                                          static_cast<size_t>(cur[0]) * cur[1]};
    const int kn = static_cast<int>(k[a].size());
    for (int z = 0; z < next[2]; ++z) {
      for (int y = 0; y < next[1]; ++y) {
        for (int x = 0; x < next[0]; ++x) {
          const size_t base = x * in_stride[0] + y * in_stride[1] + z * in_stride[2];
          double s = 0;
          for (int t = 0; t < kn; ++t) s += k[a][t] * buf[base + t * in_stride[a]];
          out[(static_cast<size_t>(z) * next[1] + y) * next[0] + x] = static_cast<float>(s);
        }
      }
    }
    buf.swap(out);
    cur = next;
  }
  const float scale = static_cast<float>(1.0 / std::sqrt(var));
  for (float& v : buf) v *= scale;
  return buf;
}

// Separable in-plane convolution of one slice, edges replicated.
void BlurSlice(float* slice, int nx, int ny, const std::vector<double>& k) {
  if (k.size() == 1) return;
  const int r = static_cast<int>(k.size()) / 2;
  std::vector<float> tmp(static_cast<size_t>(nx) * ny);
  for (int y = 0; y < ny; ++y) {
    for (int x = 0; x < nx; ++x) {
      double s = 0;
      for (int t = -r; t <= r; ++t) {
        const int xx = std::min(nx - 1, std::max(0, x + t));
        s += k[t + r] * slice[y * nx + xx];
      }
      tmp[y * nx + x] = static_cast<float>(s);
    }
  }
  for (int y = 0; y < ny; ++y) {
    for (int x = 0; x < nx; ++x) {
      double s = 0;
      for (int t = -r; t <= r; ++t) {
        const int yy = std::min(ny - 1, std::max(0, y + t));
        s += k[t + r] * tmp[yy * nx + x];
      }
      slice[y * nx + x] = static_cast<float>(s);
    }
  }
}

const Vec3 kProbeDirections[14] = {
    {1, 0, 0},  {-1, 0, 0}, {0, 1, 0},  {0, -1, 0}, {0, 0, 1},
    {0, 0, -1}, {0.577, 0.577, 0.577},   {0.577, 0.577, -0.577},
    {0.577, -0.577, 0.577},  {0.577, -0.577, -0.577},
    {-0.577, 0.577, 0.577},  {-0.577, 0.577, -0.577},
    {-0.577, -0.577, 0.577}, {-0.577, -0.577, -0.577}};

}  // namespace

double ShapeModulation::Factor(const Vec3& u) const {
  return 1.0 + c[0] * u[0] * u[1] + c[1] * u[1] * u[2] + c[2] * u[0] * u[2] +
         c[3] * (u[0] * u[0] - u[1] * u[1]) + c[4] * 0.5 * (3 * u[2] * u[2] - 1);
}

bool Anatomy::InLiverShape(const Vec3& p) const {
  if (!InEllipse(p[0], p[1], 0, 0, body_a - fat_mm, body_b - fat_mm)) return false;
  const double zn = (p[2] - liver_center[2]) / liver_semi[2];
  if (std::abs(zn) >= 1.3) return false;
  // The liver narrows towards its inferior tip: 80 % of its width at zn = -1.
  const double taper = 0.8 + 0.1 * (Clamp(zn, -1, 1) + 1);
  const Vec3 v{(p[0] - liver_center[0]) / (liver_semi[0] * taper),
               (p[1] - liver_center[1]) / (liver_semi[1] * taper), zn};
  const double r = Norm(v);
  if (r < 1e-9) return true;
  if (r > 1.35) return false;
  return r < liver_shape.Factor({v[0] / r, v[1] / r, v[2] / r});
}

int Anatomy::LesionAt(const Vec3& p) const {
  for (size_t i = 0; i < lesions.size(); ++i) {
    const Lesion& l = lesions[i];
    const Vec3 d{p[0] - l.center[0], p[1] - l.center[1], p[2] - l.center[2]};
    const double dist2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
    const double reach = 1.25 * l.radius_mm;
    if (dist2 >= reach * reach) continue;
    const double dist = std::sqrt(dist2);
    if (dist < 1e-9) return static_cast<int>(i) + 1;
    if (dist < l.radius_mm * l.shape.Factor({d[0] / dist, d[1] / dist, d[2] / dist})) {
      return static_cast<int>(i) + 1;
    }
  }
  return 0;
}

Anatomy DrawAnatomy(const AnatomyInputs& in, Rng& rng) {
  Anatomy a;
  a.body_a = Clamp(rng.Normal(42, 1), 40, 43.5);
  a.body_b = Clamp(rng.Normal(33, 1), 31, 35);
  a.fat_mm = rng.Uniform(4, 6.5);
  a.liver_center = {-16 + rng.Normal(0, 1), -3 + rng.Normal(0, 1), rng.Normal(0, 1.5)};
  a.liver_semi = {Clamp(rng.Normal(21, 1), 19, 23), Clamp(rng.Normal(19, 1), 17, 21),
                  Clamp(rng.Normal(26, 1.5), 23, 29)};
  for (double& c : a.liver_shape.c) c = rng.Uniform(-0.06, 0.06);
  a.parenchyma_hu = 105 + rng.Normal(0, 6);
  a.parenchyma_sd_hu = 9.0 * std::exp(0.4 * in.h_parenchyma);

  // Diameters, largest first.
  std::vector<double> diam{in.largest_diameter_mm};
  for (int i = 1; i < in.n_lesions; ++i) {
    diam.push_back(Clamp(in.largest_diameter_mm * rng.Uniform(0.4, 0.9), 8.0,
                         in.largest_diameter_mm));
  }
  std::sort(diam.begin(), diam.end(), std::greater<double>());

  const Vec3 lo{a.liver_center[0] - a.liver_semi[0], a.liver_center[1] - a.liver_semi[1],
                a.liver_center[2] - a.liver_semi[2]};
  const Vec3 hi{a.liver_center[0] + a.liver_semi[0], a.liver_center[1] + a.liver_semi[1],
                a.liver_center[2] + a.liver_semi[2]};
  for (double d : diam) {
    Lesion l;
    for (double& c : l.shape.c) c = rng.Uniform(-0.05, 0.05);
    double radius = d / 2;
    bool placed = false;
    while (!placed && radius >= 4.0) {
      for (int attempt = 0; attempt < 300 && !placed; ++attempt) {
        const Vec3 c{rng.Uniform(lo[0], hi[0]), rng.Uniform(lo[1], hi[1]),
                     rng.Uniform(lo[2], hi[2])};
        const double reach = 1.2 * radius;
        if (std::abs(c[2]) + reach > kHalfZLimitMm) continue;
        if (!a.InLiverShape(c)) continue;
        bool ok = true;
        for (const Vec3& u : kProbeDirections) {
          const Vec3 q{c[0] + (reach + 1.0) * u[0], c[1] + (reach + 1.0) * u[1],
                       c[2] + (reach + 1.0) * u[2]};
          if (!a.InLiverShape(q)) { ok = false; break; }
        }
        for (const Lesion& other : a.lesions) {
          if (!ok) break;
          const Vec3 dv{c[0] - other.center[0], c[1] - other.center[1], c[2] - other.center[2]};
          if (Norm(dv) < 1.2 * (radius + other.radius_mm) + 1.5) ok = false;
        }
        if (ok) {
          l.center = c;
          placed = true;
        }
      }
      if (!placed) radius *= 0.9;
    }
    if (!placed) continue;  // no room left in this liver
    l.radius_mm = radius;
    const double h = in.h_lesion;
    l.base_hu = 60 - 4 * h + rng.Normal(0, 4);
    l.core_fraction = 0.65 / (1 + std::exp(-(1.6 * h - 0.4)));
    if (radius < 6) l.core_fraction *= 0.5;
    l.rim_hu = std::max(0.0, 8 + 6 * h + rng.Normal(0, 3));
    l.texture_sd_hu = 10 * std::exp(0.45 * h) * std::exp(rng.Normal(0, 0.1));
    a.lesions.push_back(l);
  }
  return a;
}

namespace {

// The fine z grid: each slice is integrated over `sub` sub-slices of `dz` mm.
struct FineZ {
  double origin_z = 0;
  double slice_mm = 0;
  int sub = 1;
  double dz = 0;
  int nzf = 0;
  // Centre (mm) of fine sub-slice `zf`.
  double Z(int zf) const {
    const int slice = zf / sub, s = zf % sub;
    return origin_z + slice * slice_mm - 0.5 * slice_mm + (s + 0.5) * dz;
  }
};

// The two texture fields over the liver's bounding box on the fine grid
// (x, y in voxels, z in fine sub-slices; lo and hi inclusive).
struct LiverTexture {
  std::array<int, 3> lo, hi, box;
  std::vector<float> fine, coarse;
  bool Contains(int x, int y, int zf) const {
    return x >= lo[0] && x <= hi[0] && y >= lo[1] && y <= hi[1] && zf >= lo[2] && zf <= hi[2];
  }
  size_t Index(int x, int y, int zf) const {
    return (static_cast<size_t>(zf - lo[2]) * box[1] + (y - lo[1])) * box[0] + (x - lo[0]);
  }
};

// Draws the fine then the coarse field from `rng` (in that order).
LiverTexture MakeLiverTexture(const Anatomy& a, const Grid& g, const Acquisition& acq,
                              const FineZ& fz, Rng& rng) {
  LiverTexture t;
  for (int ax = 0; ax < 3; ++ax) {
    const double reach = 1.35 * a.liver_semi[ax] + 2;
    const double step = ax < 2 ? acq.pixel_mm : fz.dz;
    const double origin = ax < 2 ? g.origin[ax] : fz.Z(0);
    const int n = ax < 2 ? g.size[ax] : fz.nzf;
    t.lo[ax] = std::max(0, static_cast<int>(std::floor((a.liver_center[ax] - reach - origin) / step)));
    t.hi[ax] = std::min(n - 1, static_cast<int>(std::ceil((a.liver_center[ax] + reach - origin) / step)));
  }
  t.box = {t.hi[0] - t.lo[0] + 1, t.hi[1] - t.lo[1] + 1, t.hi[2] - t.lo[2] + 1};
  t.fine = GaussianField(
      t.box, {kFineTextureSigmaMm / acq.pixel_mm, kFineTextureSigmaMm / acq.pixel_mm,
              kFineTextureSigmaMm / fz.dz}, rng);
  t.coarse = GaussianField(
      t.box, {kCoarseTextureSigmaMm / acq.pixel_mm, kCoarseTextureSigmaMm / acq.pixel_mm,
              kCoarseTextureSigmaMm / fz.dz}, rng);
  return t;
}

// Attenuation of liver parenchyma (lesion 0) or of lesion `lesion` at `p`,
// from the texture fields' values there.
double LiverHu(const Anatomy& a, int lesion, const Vec3& p, double fine, double coarse) {
  const double texture = 0.6 * fine + 0.8 * coarse;  // unit variance
  if (lesion == 0) return a.parenchyma_hu + a.parenchyma_sd_hu * texture;
  const Lesion& l = a.lesions[lesion - 1];
  const Vec3 d{p[0] - l.center[0], p[1] - l.center[1], p[2] - l.center[2]};
  const double dist = Norm(d);
  const double rho =
      dist < 1e-9 ? 0.0
                  : dist / (l.radius_mm * l.shape.Factor({d[0] / dist, d[1] / dist, d[2] / dist}));
  const double viable = l.base_hu + l.texture_sd_hu * texture +
                        l.rim_hu * SmoothStep(0.78, 0.92, rho);
  const double necrotic = kNecrosisHu + 4 * fine;
  const double w = l.core_fraction > 0
                       ? SmoothStep(l.core_fraction - 0.08, l.core_fraction + 0.08, rho)
                       : 1.0;
  return w * viable + (1 - w) * necrotic;
}

// Attenuation inside the body wall outside the liver: spine, aorta, kidney,
// bowel loop, else soft tissue.
double OrganHu(const Anatomy& a, const Vec3& p) {
  const double spine_y = a.body_b - 12;
  const double aorta_x = 11, aorta_y = a.body_b - 24;
  const double kidney_x = 26, kidney_y = a.body_b - 18;
  const double bowel_x = 18, bowel_y = -14;
  const double ds = std::hypot(p[0], p[1] - spine_y);
  if (ds < 8) return ds > 6.5 ? kCorticalBoneHu : kCancellousBoneHu;
  if (std::hypot(p[0] - aorta_x, p[1] - aorta_y) < 5) return kAortaHu;
  if (InEllipse(p[0], p[1], kidney_x, kidney_y, 6.5, 8)) return kKidneyHu;
  const double db = std::hypot(p[0] - bowel_x, p[1] - bowel_y);
  if (db < 7) {
    if (db > 5.5) return kBowelWallHu;
    return p[1] < bowel_y - 2 ? kBowelGasHu : kBowelContentHu;
  }
  return kSoftTissueHu;
}

// Attenuation of the object at fine-grid voxel (x, y, zf).
double ObjectHu(const Anatomy& a, const Grid& g, const Acquisition& acq, const FineZ& fz,
                const LiverTexture& t, int x, int y, int zf) {
  const Vec3 p{g.origin[0] + x * acq.pixel_mm, g.origin[1] + y * acq.pixel_mm, fz.Z(zf)};
  if (!InEllipse(p[0], p[1], 0, 0, a.body_a, a.body_b)) return kAirHu;
  if (!InEllipse(p[0], p[1], 0, 0, a.body_a - a.fat_mm, a.body_b - a.fat_mm)) return kFatHu;
  if (t.Contains(x, y, zf)) {
    const int lesion = a.LesionAt(p);
    const bool liver = lesion > 0 || a.InLiverShape(p);
    if (liver) {
      const size_t fi = t.Index(x, y, zf);
      return LiverHu(a, lesion, p, t.fine[fi], t.coarse[fi]);
    }
  }
  return OrganHu(a, p);
}

// Slice profile: each slice is the average of its sub-slices.
std::vector<float> IntegrateSlices(const Anatomy& a, const Grid& g, const Acquisition& acq,
                                   const FineZ& fz, const LiverTexture& t) {
  const int nx = g.size[0], ny = g.size[1];
  const size_t plane = static_cast<size_t>(nx) * ny;
  std::vector<float> image(g.NumVoxels(), 0.0f);
  for (int zf = 0; zf < fz.nzf; ++zf) {
    float* slice = image.data() + (zf / fz.sub) * plane;
    for (int y = 0; y < ny; ++y) {
      for (int x = 0; x < nx; ++x) {
        slice[y * nx + x] += static_cast<float>(ObjectHu(a, g, acq, fz, t, x, y, zf) / fz.sub);
      }
    }
  }
  return image;
}

// Liver and lesion masks at voxel centres.
void RenderMasks(const Anatomy& a, const Acquisition& acq, RenderedCase& out) {
  const Grid& g = out.grid;
  const int nx = g.size[0], ny = g.size[1], nz = g.size[2];
  const size_t plane = static_cast<size_t>(nx) * ny;
  out.liver.assign(g.NumVoxels(), 0);
  out.lesions.assign(g.NumVoxels(), 0);
  for (int z = 0; z < nz; ++z) {
    const double pz = g.origin[2] + z * acq.slice_mm;
    for (int y = 0; y < ny; ++y) {
      for (int x = 0; x < nx; ++x) {
        const Vec3 p{g.origin[0] + x * acq.pixel_mm, g.origin[1] + y * acq.pixel_mm, pz};
        const int lesion = a.LesionAt(p);
        const size_t i = z * plane + static_cast<size_t>(y) * nx + x;
        out.lesions[i] = static_cast<uint8_t>(lesion);
        out.liver[i] = (lesion > 0 || a.InLiverShape(p)) ? 1 : 0;
      }
    }
  }
}

// Reconstruction: noise added before the kernel, scaled so that its SD
// after the kernel is acq.noise_hu (correlated, kernel-shaped noise).
// Blurs `image` in place and writes out.ct.
void Reconstruct(std::vector<float>& image, const Acquisition& acq, Rng& rng,
                 RenderedCase& out) {
  const Grid& g = out.grid;
  const int nx = g.size[0], ny = g.size[1], nz = g.size[2];
  const size_t plane = static_cast<size_t>(nx) * ny;
  const std::vector<double> kernel = GaussianKernel(acq.kernel_sigma_mm / acq.pixel_mm);
  const double noise_gain = SumOfSquares(kernel);  // per axis; 2-D gain is its square
  const double white_sd = acq.noise_hu / std::sqrt(noise_gain * noise_gain);
  out.ct.resize(g.NumVoxels());
  for (int z = 0; z < nz; ++z) {
    float* slice = image.data() + z * plane;
    for (size_t i = 0; i < plane; ++i) slice[i] += static_cast<float>(white_sd * rng.Normal());
    BlurSlice(slice, nx, ny, kernel);
    for (size_t i = 0; i < plane; ++i) {
      const double v = Clamp(std::round(slice[i]) + std::round(acq.hu_offset), -1024, 3071);
      out.ct[z * plane + i] = static_cast<int16_t>(v);
    }
  }
}

}  // namespace

RenderedCase RenderCase(const Anatomy& a, const Acquisition& acq, int matrix,
                        double z_extent_mm, Rng& rng) {
  RenderedCase out;
  Grid& g = out.grid;
  const int nz = std::max(1, static_cast<int>(std::lround(z_extent_mm / acq.slice_mm)));
  g.size = {matrix, matrix, nz};
  g.spacing = {acq.pixel_mm, acq.pixel_mm, acq.slice_mm};
  for (int i = 0; i < 3; ++i) g.origin[i] = -0.5 * (g.size[i] - 1) * g.spacing[i];

  // Sub-slices integrating the slice profile.
  FineZ fz;
  fz.origin_z = g.origin[2];
  fz.slice_mm = acq.slice_mm;
  fz.sub = std::max(1, static_cast<int>(std::ceil(acq.slice_mm / kMaxSubSliceMm - 1e-9)));
  fz.dz = acq.slice_mm / fz.sub;
  fz.nzf = nz * fz.sub;

  const LiverTexture texture = MakeLiverTexture(a, g, acq, fz, rng);
  std::vector<float> image = IntegrateSlices(a, g, acq, fz, texture);
  RenderMasks(a, acq, out);
  Reconstruct(image, acq, rng, out);
  return out;
}

}  // namespace fedrad::synth_internal
