// MorphologyFeatures (IBSI 3.1). The mesh, hull and Moran/Geary building
// blocks live in features/internal/: marching_cubes.cc (mesh, Mesh::Volume,
// MarchingCubes), convex_hull.cc (hull, Hull::Volume, ConvexHullOfMesh) and
// spatial_autocorrelation.cc (Moran's I / Geary's C, direct and FFT).
#include "features/morphology.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <unordered_map>

#include <Eigen/Dense>

#include "features/internal/convex_hull.h"
#include "features/internal/marching_cubes.h"
#include "features/internal/spatial_autocorrelation.h"

namespace fedrad::features {
namespace {

// Surface area of an ellipsoid with semi-axes a >= b >= c (IBSI 3.1.21,
// series with Legendre polynomials, 20 terms).
double EllipsoidArea(double a, double b, double c) {
  if (a <= 0) return 0;
  double alpha = std::sqrt(std::max(0.0, 1 - b * b / (a * a)));
  double beta = std::sqrt(std::max(0.0, 1 - c * c / (a * a)));
  double ab = alpha * beta;
  double sum = 0;
  if (ab == 0) {
    sum = 1;  // sphere-like: only the nu = 0 term survives
  } else {
    double x = (alpha * alpha + beta * beta) / (2 * ab);
    // Legendre polynomials by recurrence.
    double p_prev = 1, p = x;
    for (int nu = 0; nu <= 20; ++nu) {
      double pn;
      if (nu == 0) {
        pn = 1;
      } else if (nu == 1) {
        pn = x;
      } else {
        pn = ((2 * nu - 1) * x * p - (nu - 1) * p_prev) / nu;
        p_prev = p;
        p = pn;
      }
      sum += std::pow(ab, nu) / (1 - 4.0 * nu * nu) * pn;
    }
  }
  return 4 * M_PI * a * b * sum;
}

FeatureValue Make(const char* feature, const char* code, double value) {
  return FeatureValue{"morph", feature, code, "", value, ""};
}

}  // namespace

using morphology_internal::BuildHull;
using morphology_internal::BuildMesh;
using morphology_internal::Lattice;
using morphology_internal::SpatialAutocorrelation;
using morphology_internal::SpatialAutocorrelationFft;
using morphology_internal::Sub;
using morphology_internal::Vec3;

namespace {

// Voxel counts and position moments of the two masks, positions (mm)
// relative to the grid centre so that the second moments do not lose
// precision.
struct MaskMoments {
  double cx = 0, cy = 0, cz = 0;  // the grid centre (mm)
  int64_t n_morph = 0;
  double s1[3] = {0, 0, 0}, s2[6] = {0, 0, 0, 0, 0, 0};  // xx yy zz xy xz yz
  int64_t n_int = 0;
  double isum = 0;
  double weighted[3] = {0, 0, 0};
  // row_start[r]: intensity-mask voxels in rows before row r = y + ny z.
  std::vector<int64_t> row_start;
};

// Two loops (one per mask) keep each loop's sums in registers; each sum is
// accumulated in the same order as a single combined loop would.
MaskMoments Moments(const MorphologyInput& in) {
  const Geometry& g = in.geometry;
  MaskMoments m;
  const int nx = g.size[0], ny = g.size[1], nz = g.size[2];
  const double cx = 0.5 * (nx - 1) * g.spacing[0], cy = 0.5 * (ny - 1) * g.spacing[1],
               cz = 0.5 * (nz - 1) * g.spacing[2];
  m.cx = cx;
  m.cy = cy;
  m.cz = cz;
  int64_t n_morph = 0;
  double s1[3] = {0, 0, 0}, s2[6] = {0, 0, 0, 0, 0, 0};
  for (int z = 0; z < nz; ++z) {
    const double pz = z * g.spacing[2] - cz;
    for (int y = 0; y < ny; ++y) {
      const double py = y * g.spacing[1] - cy;
      const uint8_t* row = &in.morph_mask[g.Index(0, y, z)];
      for (int x = 0; x < nx; ++x) {
        if (!row[x]) continue;
        const double px = x * g.spacing[0] - cx;
        ++n_morph;
        s1[0] += px;
        s1[1] += py;
        s1[2] += pz;
        s2[0] += px * px;
        s2[1] += py * py;
        s2[2] += pz * pz;
        s2[3] += px * py;
        s2[4] += px * pz;
        s2[5] += py * pz;
      }
    }
  }
  m.n_morph = n_morph;
  std::copy(s1, s1 + 3, m.s1);
  std::copy(s2, s2 + 6, m.s2);
  int64_t n_int = 0;
  double isum = 0;
  double weighted[3] = {0, 0, 0};
  std::vector<int64_t> row_start(static_cast<size_t>(ny) * nz + 1, 0);
  for (int z = 0; z < nz; ++z) {
    const double pz = z * g.spacing[2] - cz;
    for (int y = 0; y < ny; ++y) {
      const double py = y * g.spacing[1] - cy;
      const size_t row = g.Index(0, y, z);
      row_start[static_cast<size_t>(z) * ny + y] = n_int;
      const uint8_t* mask = &in.intensity_mask[row];
      for (int x = 0; x < nx; ++x) {
        if (!mask[x]) continue;
        const double px = x * g.spacing[0] - cx;
        const double v = in.intensities[row + x];
        ++n_int;
        isum += v;
        weighted[0] += v * px;
        weighted[1] += v * py;
        weighted[2] += v * pz;
      }
    }
  }
  row_start.back() = n_int;
  m.n_int = n_int;
  m.isum = isum;
  std::copy(weighted, weighted + 3, m.weighted);
  m.row_start = std::move(row_start);
  return m;
}

// The principal-axis variances (eigenvalues of the sample covariance of the
// voxel centres, IBSI 3.1.11), largest first, clamped at 0.
std::array<double, 3> AxisVariances(const MaskMoments& m) {
  const double nm = static_cast<double>(m.n_morph);
  const double* s1 = m.s1;
  const double* s2 = m.s2;
  Eigen::Matrix3d cov;
  cov(0, 0) = s2[0] - s1[0] * s1[0] / nm;
  cov(1, 1) = s2[1] - s1[1] * s1[1] / nm;
  cov(2, 2) = s2[2] - s1[2] * s1[2] / nm;
  cov(0, 1) = cov(1, 0) = s2[3] - s1[0] * s1[1] / nm;
  cov(0, 2) = cov(2, 0) = s2[4] - s1[0] * s1[2] / nm;
  cov(1, 2) = cov(2, 1) = s2[5] - s1[1] * s1[2] / nm;
  // IBSI 3.1.11: sample covariance (N - 1) of the voxel centres.
  cov /= static_cast<double>(std::max<int64_t>(1, m.n_morph - 1));
  Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> eig(cov);
  // Ascending order: eigenvalues()[2] is the major axis.
  return {std::max(0.0, eig.eigenvalues()[2]), std::max(0.0, eig.eigenvalues()[1]),
          std::max(0.0, eig.eigenvalues()[0])};
}

// Maximum 3D diameter (IBSI 3.1.13): the largest distance between hull
// vertices. The pair loop keeps a running maximum per column j (an
// element-wise update that vectorises; max is exact in any order).
double MaxDiameter(const Hull& hull) {
  const size_t nh = hull.vertices.size();
  std::vector<double> hx(nh), hy(nh), hz(nh), col_max(nh, 0.0);
  for (size_t i = 0; i < nh; ++i) {
    hx[i] = hull.vertices[i][0];
    hy[i] = hull.vertices[i][1];
    hz[i] = hull.vertices[i][2];
  }
  for (size_t i = 0; i < nh; ++i) {
    const double xi = hx[i], yi = hy[i], zi = hz[i];
    for (size_t j = i + 1; j < nh; ++j) {
      double dx = xi - hx[j], dy = yi - hy[j], dz = zi - hz[j];
      double d2 = dx * dx + dy * dy + dz * dz;
      col_max[j] = col_max[j] < d2 ? d2 : col_max[j];
    }
  }
  double max_diameter = 0;
  for (double d2 : col_max) max_diameter = std::max(max_diameter, d2);
  return std::sqrt(max_diameter);
}

// Moran's I and Geary's C of the intensity mask (IBSI 3.1.28-29): exact by
// FFT or by the direct pair sum when within the options' budgets, else the
// mean over repeated random samples of voxels. NaN for fewer than 2 voxels.
void MoranGeary(const MorphologyInput& in, const MorphologyOptions& options,
                const MaskMoments& m, double* moran, double* geary) {
  const Geometry& g = in.geometry;
  const int nx = g.size[0], ny = g.size[1];
  const int64_t n_int = m.n_int;
  const int64_t limit = std::max<int64_t>(2, options.spatial_autocorrelation_max_voxels);
  // Position (mm, relative to the grid centre, as in Moments) of a voxel,
  // by flat index, for the pair-sum paths.
  auto position = [&](size_t i) -> std::array<float, 3> {
    const size_t x = i % nx, y = (i / nx) % ny, z = i / (static_cast<size_t>(nx) * ny);
    return {float(x * g.spacing[0] - m.cx), float(y * g.spacing[1] - m.cy),
            float(z * g.spacing[2] - m.cz)};
  };
  // Flat index of the k-th intensity-mask voxel in grid order: its row by
  // binary search in row_start, then a scan of that row.
  auto intensity_voxel = [&](int64_t k) {
    size_t r = std::upper_bound(m.row_start.begin(), m.row_start.end(), k) - m.row_start.begin() - 1;
    const size_t row = r * static_cast<size_t>(nx);
    int64_t left = k - m.row_start[r];
    for (int x = 0;; ++x) {
      if (in.intensity_mask[row + x] && left-- == 0) return row + x;
    }
  };
  if (n_int < 2) return;
  if (n_int > options.spatial_autocorrelation_direct_max_voxels &&
      (n_int <= limit || options.spatial_autocorrelation_fft_max_cells > 0)) {
    // Exact by FFT when the padded grid fits the budget (or when exactness
    // was asked for with max_voxels).
    int64_t budget = n_int <= limit ? INT64_MAX : options.spatial_autocorrelation_fft_max_cells;
    if (SpatialAutocorrelationFft(g, in.intensity_mask, in.intensities, budget, moran, geary)) {
      return;
    }
  }
  if (n_int <= limit) {
    std::vector<std::array<float, 3>> ipos;
    std::vector<float> ival;
    for (size_t i = 0; i < in.intensity_mask.size(); ++i) {
      if (!in.intensity_mask[i]) continue;
      ipos.push_back(position(i));
      ival.push_back(in.intensities[i]);
    }
    SpatialAutocorrelation(ipos, ival, moran, geary);
    return;
  }
  const int64_t sample = std::clamp<int64_t>(options.spatial_autocorrelation_sample_voxels, 2, n_int);
  std::mt19937_64 rng(options.seed);
  double ms = 0, gs = 0;
  int repeats = std::max(1, options.spatial_autocorrelation_repeats);
  // A permutation idx of 0..n_int-1 (initially the identity), stored
  // sparsely: only the entries a swap has changed.
  std::unordered_map<size_t, size_t> moved;
  auto idx = [&](size_t i) {
    auto it = moved.find(i);
    return it == moved.end() ? i : it->second;
  };
  for (int r = 0; r < repeats; ++r) {
    // Partial Fisher-Yates: the first `sample` entries are a random subset.
    for (int64_t i = 0; i < sample; ++i) {
      std::uniform_int_distribution<size_t> pick(i, static_cast<size_t>(n_int) - 1);
      size_t j = pick(rng);
      size_t vi = idx(i), vj = idx(j);
      moved[i] = vj;
      moved[j] = vi;
    }
    std::vector<std::array<float, 3>> sp(sample);
    std::vector<float> sv(sample);
    for (int64_t i = 0; i < sample; ++i) {
      const size_t v = intensity_voxel(static_cast<int64_t>(idx(i)));
      sp[i] = position(v);
      sv[i] = in.intensities[v];
    }
    double mi, gc;
    SpatialAutocorrelation(sp, sv, &mi, &gc);
    ms += mi;
    gs += gc;
  }
  *moran = ms / repeats;
  *geary = gs / repeats;
}

}  // namespace

FeatureList MorphologyFeatures(const MorphologyInput& in,
                               const MorphologyOptions& options) {
  FeatureList out;
  const Geometry& g = in.geometry;
  Lattice lattice;
  Mesh mesh = BuildMesh(g, in.morph_mask, &lattice);
  if (mesh.triangles.empty()) return out;
  const double volume = mesh.Volume();
  const double area = mesh.Area();
  const double voxel_volume = g.spacing[0] * g.spacing[1] * g.spacing[2];

  const MaskMoments m = Moments(in);
  const double nm = static_cast<double>(m.n_morph);
  Eigen::Vector3d centre(m.s1[0] / nm, m.s1[1] / nm, m.s1[2] / nm);
  const auto [l_major, l_minor, l_least] = AxisVariances(m);

  Hull hull = BuildHull(lattice, g.spacing);
  double hull_volume = hull.Volume(), hull_area = hull.Area();
  const double max_diameter = MaxDiameter(hull);

  Vec3 lo{1e300, 1e300, 1e300}, hi{-1e300, -1e300, -1e300};
  for (const auto& v : mesh.vertices) {
    for (int d = 0; d < 3; ++d) {
      lo[d] = std::min(lo[d], v[d]);
      hi[d] = std::max(hi[d], v[d]);
    }
  }
  Vec3 ext = Sub(hi, lo);
  double aabb_volume = ext[0] * ext[1] * ext[2];
  double aabb_area = 2 * (ext[0] * ext[1] + ext[1] * ext[2] + ext[0] * ext[2]);

  double a = 2 * std::sqrt(l_major), b = 2 * std::sqrt(l_minor), c = 2 * std::sqrt(l_least);
  double aee_volume = 4 * M_PI / 3 * a * b * c;
  double aee_area = EllipsoidArea(a, b, c);

  double nan = std::numeric_limits<double>::quiet_NaN();
  double mean_intensity = m.n_int == 0 ? nan : m.isum / m.n_int;
  double com_shift = nan;
  if (m.n_int > 0 && m.isum != 0) {
    com_shift =
        (centre - Eigen::Vector3d(m.weighted[0], m.weighted[1], m.weighted[2]) / m.isum).norm();
  }
  double moran = nan, geary = nan;
  MoranGeary(in, options, m, &moran, &geary);

  const double v2 = volume * volume;
  out.push_back(Make("volume_mesh", "RNU0", volume));
  out.push_back(Make("volume_voxel_counting", "YEKZ", m.n_morph * voxel_volume));
  out.push_back(Make("surface_area_mesh", "C0JK", area));
  out.push_back(Make("surface_to_volume_ratio", "2PR5", area / volume));
  out.push_back(Make("compactness_1", "SKGS", volume / (std::sqrt(M_PI) * std::pow(area, 1.5))));
  out.push_back(Make("compactness_2", "BQWJ", 36 * M_PI * v2 / (area * area * area)));
  out.push_back(Make("spherical_disproportion", "KRCK", area / std::cbrt(36 * M_PI * v2)));
  out.push_back(Make("sphericity", "QCFX", std::cbrt(36 * M_PI * v2) / area));
  out.push_back(Make("asphericity", "25C7", std::cbrt(area * area * area / (36 * M_PI * v2)) - 1));
  out.push_back(Make("centre_of_mass_shift", "KLMA", com_shift));
  out.push_back(Make("maximum_3d_diameter", "L0JK", max_diameter));
  out.push_back(Make("major_axis_length", "TDIC", 4 * std::sqrt(l_major)));
  out.push_back(Make("minor_axis_length", "P9VJ", 4 * std::sqrt(l_minor)));
  out.push_back(Make("least_axis_length", "7J51", 4 * std::sqrt(l_least)));
  out.push_back(Make("elongation", "Q3CK", l_major > 0 ? std::sqrt(l_minor / l_major) : nan));
  out.push_back(Make("flatness", "N17B", l_major > 0 ? std::sqrt(l_least / l_major) : nan));
  out.push_back(Make("volume_density_aabb", "PBX1", volume / aabb_volume));
  out.push_back(Make("area_density_aabb", "R59B", area / aabb_area));
  out.push_back(Make("volume_density_aee", "6BDE", aee_volume > 0 ? volume / aee_volume : nan));
  out.push_back(Make("area_density_aee", "RDD2", aee_area > 0 ? area / aee_area : nan));
  out.push_back(Make("volume_density_convex_hull", "R3ER", hull_volume > 0 ? volume / hull_volume : nan));
  out.push_back(Make("area_density_convex_hull", "7T7F", hull_area > 0 ? area / hull_area : nan));
  out.push_back(Make("integrated_intensity", "99N0", mean_intensity * volume));
  out.push_back(Make("morans_i", "N365", moran));
  out.push_back(Make("gearys_c", "NPT7", geary));
  return out;
}

}  // namespace fedrad::features
