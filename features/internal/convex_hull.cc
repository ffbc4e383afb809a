// Convex hull for features/morphology: quickhull on the hull candidates of
// the mesh's lattice points (BuildHull), plus the public ConvexHullOfMesh and
// Hull::Volume/Area declared in features/morphology.h.
#include "features/internal/convex_hull.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace fedrad::features::morphology_internal {
namespace {

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
class Quickhull {
 public:
  explicit Quickhull(const std::vector<IVec>& p) : p_(p) {}

  // The hull's triangles (indices into p, outward by the right-hand rule);
  // empty for fewer than 4 points or coplanar points.
  std::vector<std::array<int, 3>> Triangles() {
    std::vector<std::array<int, 3>> result;
    if (!InitialTetrahedron()) return result;
    std::vector<int> pending;
    for (int f = 0; f < 4; ++f) if (!faces_[f].outside.empty()) pending.push_back(f);
    while (!pending.empty()) {
      int f0 = pending.back();
      pending.pop_back();
      if (!faces_[f0].alive || faces_[f0].outside.empty()) continue;
      AddApexOf(f0, &pending);
    }
    for (const Face& f : faces_) {
      if (f.alive) result.push_back({f.v[0], f.v[1], f.v[2]});
    }
    return result;
  }

 private:
  struct Face {
    int v[3];
    IVec normal;
    int64_t offset;
    bool alive;
    std::vector<int> outside;
  };

  static uint64_t Key(int u, int v) { return (uint64_t(uint32_t(u)) << 32) | uint32_t(v); }
  bool Above(const Face& f, int i) const { return IDot(f.normal, p_[i]) > f.offset; }

  int AddFace(int a, int b, int c) {
    Face f;
    f.v[0] = a;
    f.v[1] = b;
    f.v[2] = c;
    f.normal = ICross(ISub(p_[b], p_[a]), ISub(p_[c], p_[a]));
    f.offset = IDot(f.normal, p_[a]);
    f.alive = true;
    int id = static_cast<int>(faces_.size());
    faces_.push_back(std::move(f));
    edge_face_[Key(a, b)] = id;
    edge_face_[Key(b, c)] = id;
    edge_face_[Key(c, a)] = id;
    return id;
  }

  // The first four faces, from extreme points, and their outside points;
  // false when the points span no volume.
  bool InitialTetrahedron() {
    const std::vector<IVec>& p = p_;
    const int n = static_cast<int>(p.size());
    if (n < 4) return false;
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
    if (i2 < 0) return false;
    IVec nrm = ICross(ISub(p[i1], p[i0]), ISub(p[i2], p[i0]));
    int i3 = -1;
    best = 0;
    for (int i = 0; i < n; ++i) {
      int64_t v = std::llabs(IDot(nrm, ISub(p[i], p[i0])));
      if (v > best) { best = v; i3 = i; }
    }
    if (i3 < 0) return false;
    int tet[4] = {i0, i1, i2, i3};
    int tri[4][3] = {{0, 1, 2}, {0, 3, 1}, {1, 3, 2}, {0, 2, 3}};
    // Orient so that the fourth vertex of each face is behind it.
    bool flip = IDot(nrm, ISub(p[i3], p[i0])) > 0;
    for (auto& t : tri) {
      int a = tet[t[0]], b = tet[t[1]], c = tet[t[2]];
      if (flip) std::swap(b, c);
      AddFace(a, b, c);
    }
    for (int i = 0; i < n; ++i) {
      if (i == i0 || i == i1 || i == i2 || i == i3) continue;
      for (int f = 0; f < 4; ++f) {
        if (Above(faces_[f], i)) {
          faces_[f].outside.push_back(i);
          break;
        }
      }
    }
    return true;
  }

  // Adds the farthest outside point of face f0 to the hull; new faces with
  // outside points go to *pending.
  void AddApexOf(int f0, std::vector<int>* pending) {
    // The farthest point of the face (largest n.p; same normal for all).
    int apex = faces_[f0].outside[0];
    for (int i : faces_[f0].outside) {
      if (IDot(faces_[f0].normal, p_[i]) > IDot(faces_[f0].normal, p_[apex])) apex = i;
    }
    FindVisible(f0, apex);
    horizon_.clear();
    orphans_.clear();
    for (int f : visible_) {
      for (int e = 0; e < 3; ++e) {
        int u = faces_[f].v[e], w = faces_[f].v[(e + 1) % 3];
        if (!is_visible_[edge_face_[Key(w, u)]]) horizon_.push_back({u, w});
      }
    }
    for (int f : visible_) {
      faces_[f].alive = false;
      for (int i : faces_[f].outside) if (i != apex) orphans_.push_back(i);
      faces_[f].outside.clear();
      faces_[f].outside.shrink_to_fit();
      for (int e = 0; e < 3; ++e) {
        auto it = edge_face_.find(Key(faces_[f].v[e], faces_[f].v[(e + 1) % 3]));
        if (it != edge_face_.end() && it->second == f) edge_face_.erase(it);
      }
    }
    for (int f : visible_) is_visible_[f] = 0;
    new_faces_.clear();
    for (auto [u, w] : horizon_) new_faces_.push_back(AddFace(u, w, apex));
    is_visible_.resize(faces_.size(), 0);
    for (int i : orphans_) {
      for (int f : new_faces_) {
        if (Above(faces_[f], i)) {
          faces_[f].outside.push_back(i);
          break;
        }
      }
    }
    for (int f : new_faces_) if (!faces_[f].outside.empty()) pending->push_back(f);
  }

  // The faces visible from the apex (connected to f0), by walking neighbours.
  void FindVisible(int f0, int apex) {
    is_visible_.resize(faces_.size(), 0);
    visible_.clear();
    stack_.assign(1, f0);
    is_visible_[f0] = 1;
    while (!stack_.empty()) {
      int f = stack_.back();
      stack_.pop_back();
      visible_.push_back(f);
      for (int e = 0; e < 3; ++e) {
        int u = faces_[f].v[e], w = faces_[f].v[(e + 1) % 3];
        int g = edge_face_[Key(w, u)];
        if (!is_visible_[g] && Above(faces_[g], apex)) {
          is_visible_[g] = 1;
          stack_.push_back(g);
        }
      }
    }
  }

  const std::vector<IVec>& p_;
  std::vector<Face> faces_;
  std::unordered_map<uint64_t, int> edge_face_;  // directed edge -> face
  // Scratch of AddApexOf, kept between points.
  std::vector<int> visible_, stack_, orphans_, new_faces_;
  std::vector<std::pair<int, int>> horizon_;
  std::vector<uint8_t> is_visible_;
};

std::vector<std::array<int, 3>> HullTriangles(const std::vector<IVec>& p) {
  return Quickhull(p).Triangles();
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

}  // namespace

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

}  // namespace fedrad::features::morphology_internal

namespace fedrad::features {

using morphology_internal::BuildHull;
using morphology_internal::Lattice;
using morphology_internal::SignedVolume;
using morphology_internal::TotalArea;

double Hull::Volume() const { return SignedVolume(vertices, triangles); }
double Hull::Area() const { return TotalArea(vertices, triangles); }

Hull ConvexHullOfMesh(const Mesh& mesh, const std::array<double, 3>& spacing) {
  Lattice lattice;
  for (const auto& v : mesh.vertices) {
    lattice.points.push_back({static_cast<int32_t>(std::lround(2 * v[0] / spacing[0])),
                              static_cast<int32_t>(std::lround(2 * v[1] / spacing[1])),
                              static_cast<int32_t>(std::lround(2 * v[2] / spacing[2]))});
  }
  return BuildHull(lattice, spacing);
}

}  // namespace fedrad::features
