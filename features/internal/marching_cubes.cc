// Marching cubes for features/morphology: the generated case table, the mask
// bounding box and the mesh builder (BuildMesh), plus the public
// MarchingCubes and Mesh::Volume/Area declared in features/morphology.h.
#include "features/internal/marching_cubes.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace fedrad::features::morphology_internal {
namespace {

// ---------------------------------------------------------------------------
// Marching-cubes case table, generated rather than typed in. For each of the
// 256 corner configurations, the iso-surface (level 0.5 of a binary field,
// so vertices at edge midpoints) is traced face by face: a face with two
// crossing edges contributes one segment; an ambiguous face (diagonal
// corners inside) contributes two segments that cut off its outside corners
// (the inside corners stay joined, as in Lorensen & Cline's table where the
// corners below the iso-level are the ones cut off).
// The segments join into closed loops, each fanned into triangles and
// oriented so that the normal points from inside to outside.
// Corner k sits at (k&1, (k>>1)&1, (k>>2)&1) of the unit cube.
#ifndef FAN_MODE
#define FAN_MODE -1
#endif
constexpr double kFanMode = FAN_MODE;
struct CaseTable {
  int edge_corner[12][2];
  std::vector<std::array<int, 3>> triangles[256];  // edge indices

  CaseTable() {
    int edge_of[8][8];
    int n = 0;
    for (int p = 0; p < 8; ++p) {
      for (int b = 0; b < 3; ++b) {
        int q = p | (1 << b);
        if (q == p) continue;
        edge_corner[n][0] = p;
        edge_corner[n][1] = q;
        edge_of[p][q] = edge_of[q][p] = n;
        ++n;
      }
    }
    int faces[6][4];
    for (int a = 0; a < 3; ++a) {
      int u = (a + 1) % 3, v = (a + 2) % 3;
      for (int s = 0; s < 2; ++s) {
        int base = s << a;
        faces[a * 2 + s][0] = base;
        faces[a * 2 + s][1] = base | (1 << u);
        faces[a * 2 + s][2] = base | (1 << u) | (1 << v);
        faces[a * 2 + s][3] = base | (1 << v);
      }
    }
    for (int config = 1; config < 255; ++config) {
      auto inside = [&](int corner) { return (config >> corner) & 1; };
      std::vector<std::vector<int>> adj(12);
      for (auto& f : faces) {
        int crossing[4];
        int count = 0;
        for (int i = 0; i < 4; ++i) {
          int p = f[i], q = f[(i + 1) % 4];
          crossing[i] = inside(p) != inside(q) ? edge_of[p][q] : -1;
          if (crossing[i] >= 0) ++count;
        }
        if (count == 2) {
          int e[2], k = 0;
          for (int i = 0; i < 4; ++i) {
            if (crossing[i] >= 0) e[k++] = crossing[i];
          }
          adj[e[0]].push_back(e[1]);
          adj[e[1]].push_back(e[0]);
        } else if (count == 4) {
          for (int i = 0; i < 4; ++i) {
            if (inside(f[i])) continue;
            int e0 = crossing[(i + 3) % 4], e1 = crossing[i];
            adj[e0].push_back(e1);
            adj[e1].push_back(e0);
          }
        }
      }
      std::vector<bool> seen(12, false);
      for (int start = 0; start < 12; ++start) {
        if (adj[start].empty() || seen[start]) continue;
        std::vector<int> loop;
        int prev = -1, cur = start;
        while (!seen[cur]) {
          seen[cur] = true;
          loop.push_back(cur);
          int next = adj[cur][0] != prev ? adj[cur][0] : adj[cur][1];
          prev = cur;
          cur = next;
        }
        // Orientation: the loop's Newell normal must point from the inside
        // corners towards the outside corners of its edges.
        Vec3 normal{0, 0, 0}, outward{0, 0, 0};
        for (size_t i = 0; i < loop.size(); ++i) {
          Vec3 a = Midpoint(loop[i]), b = Midpoint(loop[(i + 1) % loop.size()]);
          normal[0] += (a[1] - b[1]) * (a[2] + b[2]);
          normal[1] += (a[2] - b[2]) * (a[0] + b[0]);
          normal[2] += (a[0] - b[0]) * (a[1] + b[1]);
          int p = edge_corner[loop[i]][0], q = edge_corner[loop[i]][1];
          if (inside(p)) std::swap(p, q);  // p outside, q inside
          Vec3 d = Sub(Corner(p), Corner(q));
          for (int k = 0; k < 3; ++k) outward[k] += d[k];
        }
        if (Dot(normal, outward) < 0) std::reverse(loop.begin(), loop.end());
        // Fan triangulation. A non-planar loop can be fanned from any of
        // its vertices; the choice changes the enclosed volume slightly.
        // Lorensen & Cline's table triangulates each case as seen from its
        // minority corners (<= 4 of 8), folding the surface towards them;
        // equivalently: the fan that maximises the volume on the minority
        // side. This reproduces IBSI's consensus mesh volume and area on
        // the digital phantom (556, 388) and the CT phantom (A-E).
        const double minority_sign = __builtin_popcount(config) <= 4 ? 1.0 : -1.0;
        const size_t m = loop.size();
        size_t best_start = 0;
        double best_volume = -1e300;
        for (size_t s = 0; s < m; ++s) {
          double vol = 0;
          Vec3 a = Midpoint(loop[s]);
          for (size_t i = 1; i + 1 < m; ++i) {
            Vec3 b = Midpoint(loop[(s + i) % m]), c = Midpoint(loop[(s + i + 1) % m]);
            vol += Dot(a, Cross(b, c));
          }
          if (s == 0 || minority_sign * vol > minority_sign * best_volume + 1e-12) {
            best_volume = vol;
            best_start = s;
          }
        }
        for (size_t i = 1; i + 1 < m; ++i) {
          triangles[config].push_back({loop[best_start], loop[(best_start + i) % m],
                                       loop[(best_start + i + 1) % m]});
        }
      }
    }
  }
  static Vec3 Corner(int k) {
    return {double(k & 1), double((k >> 1) & 1), double((k >> 2) & 1)};
  }
  Vec3 Midpoint(int e) const {
    Vec3 a = Corner(edge_corner[e][0]), b = Corner(edge_corner[e][1]);
    return {(a[0] + b[0]) / 2, (a[1] + b[1]) / 2, (a[2] + b[2]) / 2};
  }
};

const CaseTable& Cases() {
  static const CaseTable* table = new CaseTable();
  return *table;
}

}  // namespace

double SignedVolume(const std::vector<Vec3>& v, const std::vector<std::array<int, 3>>& t) {
  double sum = 0;
  for (const auto& tri : t) sum += Dot(v[tri[0]], Cross(v[tri[1]], v[tri[2]]));
  return sum / 6.0;
}
double TotalArea(const std::vector<Vec3>& v, const std::vector<std::array<int, 3>>& t) {
  double sum = 0;
  for (const auto& tri : t) {
    sum += Norm(Cross(Sub(v[tri[1]], v[tri[0]]), Sub(v[tri[2]], v[tri[0]])));
  }
  return sum / 2.0;
}

// Inclusive bounding box of the nonzero voxels of `mask`; hi[0] < 0 when
// there are none. Rows are first tested as a whole (a branch-free OR).
void MaskBox(const Geometry& g, const std::vector<uint8_t>& mask, std::array<int, 3>* lo,
             std::array<int, 3>* hi) {
  *lo = {INT32_MAX, INT32_MAX, INT32_MAX};
  *hi = {-1, -1, -1};
  const int nx = g.size[0];
  for (int z = 0; z < g.size[2]; ++z) {
    for (int y = 0; y < g.size[1]; ++y) {
      const uint8_t* row = &mask[g.Index(0, y, z)];
      uint8_t any = 0;
      for (int x = 0; x < nx; ++x) any |= row[x];
      if (!any) continue;
      int first = 0, last = nx - 1;
      while (!row[first]) ++first;
      while (!row[last]) --last;
      *lo = {std::min((*lo)[0], first), std::min((*lo)[1], y), std::min((*lo)[2], z)};
      *hi = {std::max((*hi)[0], last), std::max((*hi)[1], y), std::max((*hi)[2], z)};
    }
  }
}

Mesh BuildMesh(const Geometry& g, const std::vector<uint8_t>& mask,
               Lattice* lattice) {
  const CaseTable& cases = Cases();
  Mesh mesh;
  // Only cubes touching the mask's bounding box can cross the surface.
  std::array<int, 3> lo, hi;
  MaskBox(g, mask, &lo, &hi);
  if (hi[0] < 0) return mesh;
  // The box padded with one empty voxel on every side: padded index
  // (x-lo+1, y-lo+1, z-lo+1) holds voxel (x, y, z).
  const int px = hi[0] - lo[0] + 3, py = hi[1] - lo[1] + 3, pz = hi[2] - lo[2] + 3;
  std::vector<uint8_t> padded(static_cast<size_t>(px) * py * pz, 0);
  for (int z = lo[2]; z <= hi[2]; ++z)
    for (int y = lo[1]; y <= hi[1]; ++y)
      for (int x = lo[0]; x <= hi[0]; ++x)
        padded[(static_cast<size_t>(z - lo[2] + 1) * py + (y - lo[1] + 1)) * px + (x - lo[0] + 1)] =
            mask[g.Index(x, y, z)] ? 1 : 0;
  const size_t sy_step = px, sz_step = static_cast<size_t>(px) * py;
  // Vertex de-duplication by lattice position (X, Y, Z) = twice the voxel
  // index. Cubes of row z only touch lattice planes Z = 2z, 2z+1, 2z+2, so a
  // ring of four planes indexed by Z mod 4 suffices; an entry is valid when
  // its tag equals Z. Vertices are numbered in order of first use.
  const int wx = 2 * px + 1, wy = 2 * py + 1;
  const int x_org = 2 * (lo[0] - 1), y_org = 2 * (lo[1] - 1);
  struct Slot {
    int z = std::numeric_limits<int>::min();
    int id = -1;
  };
  std::vector<Slot> ring(static_cast<size_t>(4) * wx * wy);
  auto vertex = [&](int X, int Y, int Z) {
    Slot& s = ring[(static_cast<size_t>(Z & 3) * wy + (Y - y_org)) * wx + (X - x_org)];
    if (s.z != Z) {
      s.z = Z;
      s.id = static_cast<int>(mesh.vertices.size());
      mesh.vertices.push_back({X * 0.5 * g.spacing[0], Y * 0.5 * g.spacing[1],
                               Z * 0.5 * g.spacing[2]});
      if (lattice) lattice->points.push_back({X, Y, Z});
    }
    return s.id;
  };
  // The cube at (x, y, z) reads rows (y, z), (y+1, z), (y, z+1), (y+1, z+1)
  // at x and x+1. Per row of cubes, q[i] packs the four rows' voxels at
  // padded x index i into bits 0-3; kSpread moves bit k to bit 2k, which is
  // where the case index wants the corner at x (corner k+1 at x+1).
  static constexpr uint8_t kSpread[16] = {0x00, 0x01, 0x04, 0x05, 0x10, 0x11, 0x14, 0x15,
                                          0x40, 0x41, 0x44, 0x45, 0x50, 0x51, 0x54, 0x55};
  std::vector<uint8_t> q(px);
  for (int z = lo[2] - 1; z <= hi[2]; ++z) {
    for (int y = lo[1] - 1; y <= hi[1]; ++y) {
      const uint8_t* c0 = &padded[(static_cast<size_t>(z - lo[2] + 1) * py + (y - lo[1] + 1)) * px];
      const uint8_t *r00 = c0, *r10 = c0 + sy_step, *r01 = c0 + sz_step,
                    *r11 = c0 + sz_step + sy_step;
      for (int i = 0; i < px; ++i) q[i] = r00[i] | (r10[i] << 1) | (r01[i] << 2) | (r11[i] << 3);
      for (int x = lo[0] - 1; x <= hi[0]; ++x) {
        const int a = q[x - lo[0] + 1], b = q[x - lo[0] + 2];
        if ((a | b) == 0 || (a & b) == 15) continue;  // all outside / all inside
        const int config = kSpread[a] | (kSpread[b] << 1);
        for (const auto& tri : cases.triangles[config]) {
          std::array<int, 3> t;
          for (int v = 0; v < 3; ++v) {
            int p = cases.edge_corner[tri[v]][0], q = cases.edge_corner[tri[v]][1];
            t[v] = vertex(2 * x + (p & 1) + (q & 1), 2 * y + ((p >> 1) & 1) + ((q >> 1) & 1),
                          2 * z + ((p >> 2) & 1) + ((q >> 2) & 1));
          }
          mesh.triangles.push_back(t);
        }
      }
    }
  }
  return mesh;
}

}  // namespace fedrad::features::morphology_internal

namespace fedrad::features {

using morphology_internal::BuildMesh;
using morphology_internal::SignedVolume;
using morphology_internal::TotalArea;

double Mesh::Volume() const { return SignedVolume(vertices, triangles); }
double Mesh::Area() const { return TotalArea(vertices, triangles); }

Mesh MarchingCubes(const Geometry& geometry, const std::vector<uint8_t>& mask) {
  return BuildMesh(geometry, mask, nullptr);
}

}  // namespace fedrad::features
