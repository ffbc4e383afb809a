#include "features/morphology.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <tuple>
#include <unordered_map>

#include <Eigen/Dense>
#include <fftw3.h>

#include <mutex>

namespace fedrad::features {
namespace {

using Vec3 = std::array<double, 3>;

Vec3 Sub(const Vec3& a, const Vec3& b) { return {a[0] - b[0], a[1] - b[1], a[2] - b[2]}; }
Vec3 Cross(const Vec3& a, const Vec3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
double Dot(const Vec3& a, const Vec3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
double Norm(const Vec3& a) { return std::sqrt(Dot(a, a)); }

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

// Integer lattice coordinates (twice the voxel index) of mesh vertices.
struct Lattice {
  std::vector<std::array<int32_t, 3>> points;
};

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

// ---------------------------------------------------------------------------
// Incremental convex hull with exact integer predicates on lattice points.
using IVec = std::array<int64_t, 3>;

IVec ISub(const IVec& a, const IVec& b) { return {a[0] - b[0], a[1] - b[1], a[2] - b[2]}; }
IVec ICross(const IVec& a, const IVec& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
int64_t IDot(const IVec& a, const IVec& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }

// Quickhull (Barber, Dobkin & Huhdanpaa 1996) with conflict lists: every
// outside point belongs to one face it is strictly above; the farthest point
// of a face is added, the faces it sees (found by walking neighbours) are
// replaced by a cone to their horizon, and their points are re-assigned to
// the new faces. Exact: all predicates are integer.
std::vector<std::array<int, 3>> HullTriangles(const std::vector<IVec>& p) {
  std::vector<std::array<int, 3>> result;
  const int n = static_cast<int>(p.size());
  if (n < 4) return result;
  // Initial tetrahedron.
  int i0 = 0;
  for (int i = 1; i < n; ++i) {
    if (p[i][0] < p[i0][0]) i0 = i;
  }
  int i1 = -1;
  int64_t best = -1;
  for (int i = 0; i < n; ++i) {
    IVec d = ISub(p[i], p[i0]);
    if (IDot(d, d) > best) { best = IDot(d, d); i1 = i; }
  }
  int i2 = -1;
  best = 0;
  for (int i = 0; i < n; ++i) {
    IVec c = ICross(ISub(p[i1], p[i0]), ISub(p[i], p[i0]));
    if (IDot(c, c) > best) { best = IDot(c, c); i2 = i; }
  }
  if (i2 < 0) return result;
  IVec nrm = ICross(ISub(p[i1], p[i0]), ISub(p[i2], p[i0]));
  int i3 = -1;
  best = 0;
  for (int i = 0; i < n; ++i) {
    int64_t v = std::llabs(IDot(nrm, ISub(p[i], p[i0])));
    if (v > best) { best = v; i3 = i; }
  }
  if (i3 < 0) return result;
  struct Face {
    int v[3];
    IVec normal;
    int64_t offset;
    bool alive;
    std::vector<int> outside;
  };
  std::vector<Face> faces;
  std::unordered_map<uint64_t, int> edge_face;  // directed edge -> face
  auto key = [](int u, int v) { return (uint64_t(uint32_t(u)) << 32) | uint32_t(v); };
  auto above = [&](const Face& f, int i) { return IDot(f.normal, p[i]) > f.offset; };
  auto add_face = [&](int a, int b, int c) {
    Face f;
    f.v[0] = a;
    f.v[1] = b;
    f.v[2] = c;
    f.normal = ICross(ISub(p[b], p[a]), ISub(p[c], p[a]));
    f.offset = IDot(f.normal, p[a]);
    f.alive = true;
    int id = static_cast<int>(faces.size());
    faces.push_back(std::move(f));
    edge_face[key(a, b)] = id;
    edge_face[key(b, c)] = id;
    edge_face[key(c, a)] = id;
    return id;
  };
  {
    int tet[4] = {i0, i1, i2, i3};
    int tri[4][3] = {{0, 1, 2}, {0, 3, 1}, {1, 3, 2}, {0, 2, 3}};
    // Orient so that the fourth vertex of each face is behind it.
    bool flip = IDot(nrm, ISub(p[i3], p[i0])) > 0;
    for (auto& t : tri) {
      int a = tet[t[0]], b = tet[t[1]], c = tet[t[2]];
      if (flip) std::swap(b, c);
      add_face(a, b, c);
    }
  }
  for (int i = 0; i < n; ++i) {
    if (i == i0 || i == i1 || i == i2 || i == i3) continue;
    for (int f = 0; f < 4; ++f) {
      if (above(faces[f], i)) {
        faces[f].outside.push_back(i);
        break;
      }
    }
  }
  std::vector<int> pending;
  for (int f = 0; f < 4; ++f) if (!faces[f].outside.empty()) pending.push_back(f);
  std::vector<int> visible, stack, orphans, new_faces;
  std::vector<std::pair<int, int>> horizon;
  std::vector<uint8_t> is_visible;
  while (!pending.empty()) {
    int f0 = pending.back();
    pending.pop_back();
    if (!faces[f0].alive || faces[f0].outside.empty()) continue;
    // The farthest point of the face (largest n.p; same normal for all).
    int apex = faces[f0].outside[0];
    for (int i : faces[f0].outside) {
      if (IDot(faces[f0].normal, p[i]) > IDot(faces[f0].normal, p[apex])) apex = i;
    }
    // Faces visible from the apex: connected, found by walking neighbours.
    is_visible.resize(faces.size(), 0);
    visible.clear();
    stack.assign(1, f0);
    is_visible[f0] = 1;
    while (!stack.empty()) {
      int f = stack.back();
      stack.pop_back();
      visible.push_back(f);
      for (int e = 0; e < 3; ++e) {
        int u = faces[f].v[e], w = faces[f].v[(e + 1) % 3];
        int g = edge_face[key(w, u)];
        if (!is_visible[g] && above(faces[g], apex)) {
          is_visible[g] = 1;
          stack.push_back(g);
        }
      }
    }
    horizon.clear();
    orphans.clear();
    for (int f : visible) {
      for (int e = 0; e < 3; ++e) {
        int u = faces[f].v[e], w = faces[f].v[(e + 1) % 3];
        if (!is_visible[edge_face[key(w, u)]]) horizon.push_back({u, w});
      }
    }
    for (int f : visible) {
      faces[f].alive = false;
      for (int i : faces[f].outside) if (i != apex) orphans.push_back(i);
      faces[f].outside.clear();
      faces[f].outside.shrink_to_fit();
      for (int e = 0; e < 3; ++e) {
        auto it = edge_face.find(key(faces[f].v[e], faces[f].v[(e + 1) % 3]));
        if (it != edge_face.end() && it->second == f) edge_face.erase(it);
      }
    }
    for (int f : visible) is_visible[f] = 0;
    new_faces.clear();
    for (auto [u, w] : horizon) new_faces.push_back(add_face(u, w, apex));
    is_visible.resize(faces.size(), 0);
    for (int i : orphans) {
      for (int f : new_faces) {
        if (above(faces[f], i)) {
          faces[f].outside.push_back(i);
          break;
        }
      }
    }
    for (int f : new_faces) if (!faces[f].outside.empty()) pending.push_back(f);
  }
  for (const Face& f : faces) {
    if (f.alive) result.push_back({f.v[0], f.v[1], f.v[2]});
  }
  return result;
}

// Points that can be hull vertices: the extreme lattice points of every
// axis-parallel line (a point strictly between two others on a line is not a
// vertex of the hull).
std::vector<IVec> HullCandidates(const Lattice& lattice) {
  std::vector<IVec> out;
  if (lattice.points.empty()) return out;
  std::array<int32_t, 3> lo{INT32_MAX, INT32_MAX, INT32_MAX}, hi{INT32_MIN, INT32_MIN, INT32_MIN};
  for (const auto& q : lattice.points) {
    for (int d = 0; d < 3; ++d) {
      lo[d] = std::min(lo[d], q[d]);
      hi[d] = std::max(hi[d], q[d]);
    }
  }
  std::vector<uint8_t> keep(lattice.points.size(), 0);
  for (int axis = 0; axis < 3; ++axis) {
    int u = (axis + 1) % 3, v = (axis + 2) % 3;
    int64_t wu = hi[u] - lo[u] + 1, wv = hi[v] - lo[v] + 1;
    std::vector<int> min_idx(wu * wv, -1), max_idx(wu * wv, -1);
    for (size_t i = 0; i < lattice.points.size(); ++i) {
      const auto& q = lattice.points[i];
      int64_t cell = (q[u] - lo[u]) * wv + (q[v] - lo[v]);
      if (min_idx[cell] < 0 || q[axis] < lattice.points[min_idx[cell]][axis]) min_idx[cell] = static_cast<int>(i);
      if (max_idx[cell] < 0 || q[axis] > lattice.points[max_idx[cell]][axis]) max_idx[cell] = static_cast<int>(i);
    }
    for (int i : min_idx) if (i >= 0) keep[i] = 1;
    for (int i : max_idx) if (i >= 0) keep[i] = 1;
  }
  for (size_t i = 0; i < lattice.points.size(); ++i) {
    if (keep[i]) {
      const auto& q = lattice.points[i];
      out.push_back({q[0], q[1], q[2]});
    }
  }
  // A vertex of the 3D hull is also a vertex of the 2D hull of the points in
  // its z-plane (else it lies in the hull of other points). Keep only those:
  // the strict 2D hull vertices per plane, by Andrew's monotone chain with
  // exact integer orientation tests.
  std::sort(out.begin(), out.end(), [](const IVec& a, const IVec& b) {
    return std::tie(a[2], a[0], a[1]) < std::tie(b[2], b[0], b[1]);
  });
  std::vector<IVec> reduced, chain;
  auto cross = [](const IVec& o, const IVec& a, const IVec& b) {
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  };
  for (size_t begin = 0; begin < out.size();) {
    size_t end = begin;
    while (end < out.size() && out[end][2] == out[begin][2]) ++end;
    const size_t m = end - begin;
    if (m <= 2) {
      reduced.insert(reduced.end(), out.begin() + begin, out.begin() + end);
    } else {
      chain.assign(2 * m, IVec{});
      size_t k = 0;
      for (size_t i = begin; i < end; ++i) {  // lower hull
        while (k >= 2 && cross(chain[k - 2], chain[k - 1], out[i]) <= 0) --k;
        chain[k++] = out[i];
      }
      for (size_t i = end - 1, t = k + 1; i-- > begin;) {  // upper hull
        while (k >= t && cross(chain[k - 2], chain[k - 1], out[i]) <= 0) --k;
        chain[k++] = out[i];
      }
      // The last point repeats the first.
      reduced.insert(reduced.end(), chain.begin(), chain.begin() + (k - 1));
    }
    begin = end;
  }
  return reduced;
}

Hull BuildHull(const Lattice& lattice, const std::array<double, 3>& spacing) {
  std::vector<IVec> cand = HullCandidates(lattice);
  Hull hull;
  auto tris = HullTriangles(cand);
  std::vector<int> remap(cand.size(), -1);
  for (auto& t : tris) {
    for (int& v : t) {
      if (remap[v] < 0) {
        remap[v] = static_cast<int>(hull.vertices.size());
        hull.vertices.push_back({cand[v][0] * 0.5 * spacing[0], cand[v][1] * 0.5 * spacing[1],
                                 cand[v][2] * 0.5 * spacing[2]});
      }
      v = remap[v];
    }
    hull.triangles.push_back(t);
  }
  return hull;
}

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

// Moran's I and Geary's C (IBSI 3.1.24 / 3.1.25) with weights 1/distance.
void SpatialAutocorrelation(const std::vector<std::array<float, 3>>& pos,
                            const std::vector<float>& val, double* moran,
                            double* geary) {
  const size_t n = pos.size();
  double mean = 0;
  for (float v : val) mean += v;
  mean /= n;
  double denom = 0;
  for (float v : val) denom += (v - mean) * (v - mean);
  std::vector<float> px(n), py(n), pz(n), dv(n), rv(n);
  for (size_t i = 0; i < n; ++i) {
    px[i] = pos[i][0];
    py[i] = pos[i][1];
    pz[i] = pos[i][2];
    dv[i] = static_cast<float>(val[i] - mean);
    rv[i] = val[i];
  }
  // Each pair i < j once. The sums are accumulated per column j (element-wise
  // updates the compiler vectorises; a per-row float sum would force
  // sequential adds):
  //   sw = sum_j sum_i w_ij,  sm = sum_j d_j sum_i d_i w_ij,
  //   sg = sum_j sum_i w_ij (r_i - r_j)^2.
  std::vector<float> col_w(n, 0.0f), col_m(n, 0.0f), col_g(n, 0.0f);
  for (size_t i = 0; i + 1 < n; ++i) {
    const float xi = px[i], yi = py[i], zi = pz[i], di = dv[i], ri = rv[i];
    for (size_t j = i + 1; j < n; ++j) {
      float dx = xi - px[j], dy = yi - py[j], dz = zi - pz[j];
      float w = 1.0f / std::sqrt(dx * dx + dy * dy + dz * dz);
      float dr = ri - rv[j];
      col_w[j] += w;
      col_m[j] += di * w;
      col_g[j] += w * dr * dr;
    }
  }
  double sw = 0, sm = 0, sg = 0;
  for (size_t j = 0; j < n; ++j) {
    sw += col_w[j];
    sm += dv[j] * static_cast<double>(col_m[j]);
    sg += col_g[j];
  }
  // Pairs were counted once; both sums and the weight total double alike.
  if (denom <= 0 || sw <= 0) {
    *moran = std::numeric_limits<double>::quiet_NaN();
    *geary = std::numeric_limits<double>::quiet_NaN();
    return;
  }
  *moran = static_cast<double>(n) / (2 * sw) * (2 * sm) / denom;
  *geary = static_cast<double>(n - 1) * (2 * sg) / (2 * (2 * sw) * denom);
}


// Exact Moran's I and Geary's C by FFT convolution. With D = (x - mean) on
// the intensity mask and M the mask, and K(o) = 1/|o| (mm) for o != 0:
//   sum_{i!=j} w_ij          = sum_i M_i (K*M)_i
//   sum_{i!=j} w_ij d_i d_j  = sum_i D_i (K*D)_i
//   sum_{i!=j} w_ij (d_i-d_j)^2 = 2 sum_i D_i^2 (K*M)_i - 2 sum_i D_i (K*D)_i
// computed with linear (zero-padded) convolutions of size >= 2n - 1.
std::mutex& FftwPlannerMutex() {
  static std::mutex* mu = new std::mutex();  // FFTW's planner is not thread safe
  return *mu;
}

int NiceFftSize(int n) {
  for (int m = n;; ++m) {
    int r = m;
    for (int p : {2, 3, 5, 7}) while (r % p == 0) r /= p;
    if (r == 1) return m;
  }
}

bool SpatialAutocorrelationFft(const Geometry& g, const std::vector<uint8_t>& mask,
                               const std::vector<float>& values, int64_t max_cells,
                               double* moran, double* geary) {
  // Bounding box of the mask.
  std::array<int, 3> lo, hi;
  MaskBox(g, mask, &lo, &hi);
  if (hi[0] < 0) return false;
  std::array<int, 3> n, p;
  int64_t cells = 1;
  for (int d = 0; d < 3; ++d) {
    n[d] = hi[d] - lo[d] + 1;
    p[d] = NiceFftSize(2 * n[d] - 1);
    cells *= p[d];
  }
  if (cells > max_cells) return false;
  const int px = p[0], py = p[1], pz = p[2];
  const int hx = px / 2 + 1;  // r2c halves the last (fastest) dimension: x
  const size_t real_size = static_cast<size_t>(cells);
  const size_t cplx_size = static_cast<size_t>(pz) * py * hx;
  auto ridx = [&](int x, int y, int z) { return (static_cast<size_t>(z) * py + y) * px + x; };

  double sum = 0;
  size_t count = 0;
  for (int z = lo[2]; z <= hi[2]; ++z)
    for (int y = lo[1]; y <= hi[1]; ++y)
      for (int x = lo[0]; x <= hi[0]; ++x) {
        size_t i = g.Index(x, y, z);
        if (mask[i]) {
          sum += values[i];
          ++count;
        }
      }
  const double mean = sum / count;
  double* k = fftw_alloc_real(real_size);
  double* m = fftw_alloc_real(real_size);
  double* dv = fftw_alloc_real(real_size);
  fftw_complex* kf = fftw_alloc_complex(cplx_size);
  fftw_complex* mf = fftw_alloc_complex(cplx_size);
  fftw_complex* df = fftw_alloc_complex(cplx_size);
  std::fill(m, m + real_size, 0.0);
  std::fill(dv, dv + real_size, 0.0);
  std::fill(k, k + real_size, 0.0);
  double denom = 0;
  for (int z = lo[2]; z <= hi[2]; ++z)
    for (int y = lo[1]; y <= hi[1]; ++y)
      for (int x = lo[0]; x <= hi[0]; ++x) {
        size_t i = g.Index(x, y, z);
        if (!mask[i]) continue;
        size_t j = ridx(x - lo[0], y - lo[1], z - lo[2]);
        m[j] = 1.0;
        dv[j] = values[i] - mean;
        denom += dv[j] * dv[j];
      }
  // Kernel on offsets -(n-1)..(n-1), stored circularly.
  for (int oz = -(n[2] - 1); oz <= n[2] - 1; ++oz)
    for (int oy = -(n[1] - 1); oy <= n[1] - 1; ++oy)
      for (int ox = -(n[0] - 1); ox <= n[0] - 1; ++ox) {
        if (ox == 0 && oy == 0 && oz == 0) continue;
        double dx = ox * g.spacing[0], dy = oy * g.spacing[1], dz = oz * g.spacing[2];
        k[ridx((ox + px) % px, (oy + py) % py, (oz + pz) % pz)] = 1.0 / std::sqrt(dx * dx + dy * dy + dz * dz);
      }
  fftw_plan fk, fm, fd, bm, bd;
  {
    std::lock_guard<std::mutex> lock(FftwPlannerMutex());
    fk = fftw_plan_dft_r2c_3d(pz, py, px, k, kf, FFTW_ESTIMATE);
    fm = fftw_plan_dft_r2c_3d(pz, py, px, m, mf, FFTW_ESTIMATE);
    fd = fftw_plan_dft_r2c_3d(pz, py, px, dv, df, FFTW_ESTIMATE);
  }
  // Keep the masks: the inverse transforms overwrite the real arrays.
  std::vector<double> m_keep(m, m + real_size), d_keep(dv, dv + real_size);
  fftw_execute(fk);
  fftw_execute(fm);
  fftw_execute(fd);
  for (size_t i = 0; i < cplx_size; ++i) {
    double kr = kf[i][0], ki = kf[i][1];
    double a = mf[i][0], b = mf[i][1];
    mf[i][0] = a * kr - b * ki;
    mf[i][1] = a * ki + b * kr;
    a = df[i][0];
    b = df[i][1];
    df[i][0] = a * kr - b * ki;
    df[i][1] = a * ki + b * kr;
  }
  {
    std::lock_guard<std::mutex> lock(FftwPlannerMutex());
    bm = fftw_plan_dft_c2r_3d(pz, py, px, mf, m, FFTW_ESTIMATE);
    bd = fftw_plan_dft_c2r_3d(pz, py, px, df, dv, FFTW_ESTIMATE);
  }
  fftw_execute(bm);
  fftw_execute(bd);
  const double scale = 1.0 / static_cast<double>(cells);
  double sw = 0, sm = 0, sg2 = 0;
  for (size_t i = 0; i < real_size; ++i) {
    if (m_keep[i] == 0) continue;
    double km = m[i] * scale, kd = dv[i] * scale;
    sw += km;
    sm += d_keep[i] * kd;
    sg2 += d_keep[i] * d_keep[i] * km;
  }
  double sg = 2 * sg2 - 2 * sm;
  {
    std::lock_guard<std::mutex> lock(FftwPlannerMutex());
    for (fftw_plan pl : {fk, fm, fd, bm, bd}) fftw_destroy_plan(pl);
  }
  fftw_free(k);
  fftw_free(m);
  fftw_free(dv);
  fftw_free(kf);
  fftw_free(mf);
  fftw_free(df);
  const double nn = static_cast<double>(count);
  if (denom <= 0 || sw <= 0) {
    *moran = *geary = std::numeric_limits<double>::quiet_NaN();
  } else {
    *moran = nn / sw * sm / denom;
    *geary = (nn - 1) * sg / (2 * sw * denom);
  }
  return true;
}

FeatureValue Make(const char* feature, const char* code, double value) {
  return FeatureValue{"morph", feature, code, "", value};
}

}  // namespace

double Mesh::Volume() const { return SignedVolume(vertices, triangles); }
double Mesh::Area() const { return TotalArea(vertices, triangles); }
double Hull::Volume() const { return SignedVolume(vertices, triangles); }
double Hull::Area() const { return TotalArea(vertices, triangles); }

Mesh MarchingCubes(const Geometry& geometry, const std::vector<uint8_t>& mask) {
  return BuildMesh(geometry, mask, nullptr);
}

Hull ConvexHullOfMesh(const Mesh& mesh, const std::array<double, 3>& spacing) {
  Lattice lattice;
  for (const auto& v : mesh.vertices) {
    lattice.points.push_back({static_cast<int32_t>(std::lround(2 * v[0] / spacing[0])),
                              static_cast<int32_t>(std::lround(2 * v[1] / spacing[1])),
                              static_cast<int32_t>(std::lround(2 * v[2] / spacing[2]))});
  }
  return BuildHull(lattice, spacing);
}

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

  // Voxel positions (mm) and statistics of the two masks, in one pass.
  // Positions are taken relative to the grid centre so the second moments
  // do not lose precision.
  const int nx = g.size[0], ny = g.size[1], nz = g.size[2];
  const double cx = 0.5 * (nx - 1) * g.spacing[0], cy = 0.5 * (ny - 1) * g.spacing[1],
               cz = 0.5 * (nz - 1) * g.spacing[2];
  int64_t n_morph = 0;
  double s1[3] = {0, 0, 0}, s2[6] = {0, 0, 0, 0, 0, 0};  // xx yy zz xy xz yz
  int64_t n_int = 0;
  double isum = 0;
  double weighted[3] = {0, 0, 0};
  // Two loops (one per mask) keep each loop's sums in registers; each sum
  // is accumulated in the same order as a single combined loop would.
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
  // row_start[r]: intensity-mask voxels in rows before row r = y + ny z.
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
  const double nm = static_cast<double>(n_morph);
  Eigen::Vector3d centre(s1[0] / nm, s1[1] / nm, s1[2] / nm);
  Eigen::Matrix3d cov;
  cov(0, 0) = s2[0] - s1[0] * s1[0] / nm;
  cov(1, 1) = s2[1] - s1[1] * s1[1] / nm;
  cov(2, 2) = s2[2] - s1[2] * s1[2] / nm;
  cov(0, 1) = cov(1, 0) = s2[3] - s1[0] * s1[1] / nm;
  cov(0, 2) = cov(2, 0) = s2[4] - s1[0] * s1[2] / nm;
  cov(1, 2) = cov(2, 1) = s2[5] - s1[1] * s1[2] / nm;
  // IBSI 3.1.11: sample covariance (N - 1) of the voxel centres.
  cov /= static_cast<double>(std::max<int64_t>(1, n_morph - 1));
  Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> eig(cov);
  // Ascending order: eigenvalues()[2] is the major axis.
  double l_major = std::max(0.0, eig.eigenvalues()[2]);
  double l_minor = std::max(0.0, eig.eigenvalues()[1]);
  double l_least = std::max(0.0, eig.eigenvalues()[0]);

  Hull hull = BuildHull(lattice, g.spacing);
  double hull_volume = hull.Volume(), hull_area = hull.Area();
  // Maximum 3D diameter (IBSI 3.1.13): the largest distance between hull
  // vertices. The pair loop keeps a running maximum per column j (an
  // element-wise update that vectorises; max is exact in any order).
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
  max_diameter = std::sqrt(max_diameter);

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
  double mean_intensity = n_int == 0 ? nan : isum / n_int;
  double com_shift = nan;
  if (n_int > 0 && isum != 0) {
    com_shift = (centre - Eigen::Vector3d(weighted[0], weighted[1], weighted[2]) / isum).norm();
  }

  double moran = nan, geary = nan;
  const int64_t limit = std::max<int64_t>(2, options.spatial_autocorrelation_max_voxels);
  // Position (mm, relative to the grid centre, as above) of a voxel, by
  // flat index, for the pair-sum paths.
  auto position = [&](size_t i) -> std::array<float, 3> {
    const size_t x = i % nx, y = (i / nx) % ny, z = i / (static_cast<size_t>(nx) * ny);
    return {float(x * g.spacing[0] - cx), float(y * g.spacing[1] - cy), float(z * g.spacing[2] - cz)};
  };
  // Flat index of the k-th intensity-mask voxel in grid order: its row by
  // binary search in row_start, then a scan of that row.
  auto intensity_voxel = [&](int64_t k) {
    size_t r = std::upper_bound(row_start.begin(), row_start.end(), k) - row_start.begin() - 1;
    const size_t row = r * static_cast<size_t>(nx);
    int64_t left = k - row_start[r];
    for (int x = 0;; ++x) {
      if (in.intensity_mask[row + x] && left-- == 0) return row + x;
    }
  };
  if (n_int >= 2) {
    bool done = false;
    if (n_int > options.spatial_autocorrelation_direct_max_voxels &&
        (n_int <= limit || options.spatial_autocorrelation_fft_max_cells > 0)) {
      // Exact by FFT when the padded grid fits the budget (or when exactness
      // was asked for with max_voxels).
      int64_t budget = n_int <= limit ? INT64_MAX : options.spatial_autocorrelation_fft_max_cells;
      done = SpatialAutocorrelationFft(g, in.intensity_mask, in.intensities, budget, &moran, &geary);
    }
    if (!done && n_int <= limit) {
      std::vector<std::array<float, 3>> ipos;
      std::vector<float> ival;
      for (size_t i = 0; i < in.intensity_mask.size(); ++i) {
        if (!in.intensity_mask[i]) continue;
        ipos.push_back(position(i));
        ival.push_back(in.intensities[i]);
      }
      SpatialAutocorrelation(ipos, ival, &moran, &geary);
      done = true;
    }
    if (!done) {
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
        double m, gc;
        SpatialAutocorrelation(sp, sv, &m, &gc);
        ms += m;
        gs += gc;
      }
      moran = ms / repeats;
      geary = gs / repeats;
    }
  }

  const double v2 = volume * volume;
  out.push_back(Make("volume_mesh", "RNU0", volume));
  out.push_back(Make("volume_voxel_counting", "YEKZ", n_morph * voxel_volume));
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
