// Feature formulas of one texture matrix. Every formula is the IBSI reference
// manual's (chapter "Image features"): GLCM section 3.6, GLRLM 3.7, GLSZM
// 3.8, GLDZM 3.9, NGTDM 3.10, NGLDM 3.11; entropies use log2.
#include <algorithm>
#include <cmath>
#include <vector>

#include "features/texture/internal/texture_internal.h"

namespace fedrad::features::texture_internal {
namespace {

inline double XLog2X(double p) { return p > 0.0 ? p * std::log2(p) : 0.0; }

// The normalised GLCM p(i, j) (0-based, ng x ng), its marginals and the
// features that need one pass over p.
struct GlcmSums {
  std::vector<double> p, px, py, pdiff, psum;  // px, py 1-based; pdiff[|i-j|]; psum[i+j]
  double joint_max = 0.0, joint_entropy = 0.0, asm_ = 0.0, autocorr = 0.0;
};

// False when the matrix is empty.
bool Normalise(const double* counts, int ng, bool symmetric, GlcmSums* g) {
  const int w = ng + 1;
  // p(i, j), i, j = 1..ng, stored 0-based.
  std::vector<double>& p = g->p;
  p.assign(static_cast<size_t>(ng) * ng, 0.0);
  double total = 0.0;
  for (int i = 1; i <= ng; ++i) {
    for (int j = 1; j <= ng; ++j) {
      double c = counts[i * w + j];
      if (symmetric) c += counts[j * w + i];
      p[(i - 1) * ng + (j - 1)] = c;
      total += c;
    }
  }
  if (total <= 0.0) return false;
  const double inv = 1.0 / total;
  g->px.assign(ng + 1, 0.0);
  g->py.assign(ng + 1, 0.0);
  g->pdiff.assign(ng, 0.0);
  g->psum.assign(2 * ng + 1, 0.0);
  double joint_max = 0.0, joint_entropy = 0.0, asm_ = 0.0, autocorr = 0.0;
  for (int i = 1; i <= ng; ++i) {
    for (int j = 1; j <= ng; ++j) {
      double& v = p[(i - 1) * ng + (j - 1)];
      v *= inv;
      if (v == 0.0) continue;
      g->px[i] += v;
      g->py[j] += v;
      g->pdiff[std::abs(i - j)] += v;
      g->psum[i + j] += v;
      joint_max = std::max(joint_max, v);
      joint_entropy -= v * std::log2(v);
      asm_ += v * v;
      autocorr += static_cast<double>(i) * j * v;
    }
  }
  g->joint_max = joint_max;
  g->joint_entropy = joint_entropy;
  g->asm_ = asm_;
  g->autocorr = autocorr;
  return true;
}

// The features of the diagonal (difference) distribution p_{x-y}(k).
struct DiffFeatures {
  double avg = 0.0, ent = 0.0, contrast = 0.0, id = 0.0, nid = 0.0, idm = 0.0, nidm = 0.0,
         inv_var = 0.0, var = 0.0;
};
DiffFeatures DifferenceFeatures(const std::vector<double>& pdiff, int ng) {
  double diff_avg = 0.0, diff_ent = 0.0, contrast = 0.0, id = 0.0, nid = 0.0, idm = 0.0, nidm = 0.0,
         inv_var = 0.0;
  const double dng = ng;
  for (int k = 0; k < ng; ++k) {
    const double v = pdiff[k];
    if (v == 0.0) continue;
    diff_avg += k * v;
    diff_ent -= v * std::log2(v);
    contrast += static_cast<double>(k) * k * v;
    id += v / (1.0 + k);
    nid += v / (1.0 + k / dng);
    idm += v / (1.0 + static_cast<double>(k) * k);
    nidm += v / (1.0 + static_cast<double>(k) * k / (dng * dng));
    if (k > 0) inv_var += v / (static_cast<double>(k) * k);
  }
  double diff_var = 0.0;
  for (int k = 0; k < ng; ++k) diff_var += (k - diff_avg) * (k - diff_avg) * pdiff[k];
  return {diff_avg, diff_ent, contrast, id, nid, idm, nidm, inv_var, diff_var};
}

// The features of the cross-diagonal (sum) distribution p_{x+y}(k);
// mu_xy = mu_x + mu_y for the cluster features.
struct SumFeatures {
  double avg = 0.0, ent = 0.0, var = 0.0, tendency = 0.0, shade = 0.0, prominence = 0.0;
};
SumFeatures SumDistributionFeatures(const std::vector<double>& psum, int ng, double mu_xy) {
  double sum_avg = 0.0, sum_ent = 0.0;
  for (int k = 2; k <= 2 * ng; ++k) {
    sum_avg += k * psum[k];
    sum_ent -= XLog2X(psum[k]);
  }
  double sum_var = 0.0, tendency = 0.0, shade = 0.0, prominence = 0.0;
  for (int k = 2; k <= 2 * ng; ++k) {
    const double v = psum[k];
    if (v == 0.0) continue;
    sum_var += (k - sum_avg) * (k - sum_avg) * v;
    const double d = k - mu_xy, d2 = d * d;
    tendency += d2 * v;
    shade += d2 * d * v;
    prominence += d2 * d2 * v;
  }
  return {sum_avg, sum_ent, sum_var, tendency, shade, prominence};
}

}  // namespace

bool GlcmFeatures(const double* counts, int ng, bool symmetric, double* out) {
  GlcmSums g;
  if (!Normalise(counts, ng, symmetric, &g)) return false;
  const std::vector<double>& p = g.p;
  const std::vector<double>& px = g.px;
  const std::vector<double>& py = g.py;
  double mu_x = 0.0, mu_y = 0.0, hx = 0.0, hy = 0.0;
  for (int i = 1; i <= ng; ++i) {
    mu_x += i * px[i];
    mu_y += i * py[i];
    hx -= XLog2X(px[i]);
    hy -= XLog2X(py[i]);
  }
  double var_x = 0.0, var_y = 0.0;
  for (int i = 1; i <= ng; ++i) {
    var_x += (i - mu_x) * (i - mu_x) * px[i];
    var_y += (i - mu_y) * (i - mu_y) * py[i];
  }
  // Joint variance uses the joint average, which is mu_x (IBSI UR99).
  const double joint_avg = mu_x;
  const double joint_var = var_x;

  double cov = 0.0, hxy1 = 0.0, hxy2 = 0.0;
  for (int i = 1; i <= ng; ++i) {
    if (px[i] == 0.0) continue;
    for (int j = 1; j <= ng; ++j) {
      if (py[j] == 0.0) continue;
      const double v = p[(i - 1) * ng + (j - 1)];
      const double q = px[i] * py[j];
      const double lq = std::log2(q);
      cov += (i - mu_x) * (j - mu_y) * v;
      hxy1 -= v * lq;
      hxy2 -= q * lq;
    }
  }
  const DiffFeatures diff = DifferenceFeatures(g.pdiff, ng);
  const SumFeatures sum = SumDistributionFeatures(g.psum, ng, mu_x + mu_y);

  const double sd = std::sqrt(var_x * var_y);
  const double correlation = sd > 0.0 ? cov / sd : 1.0;
  const double hmax = std::max(hx, hy);
  const double ic1 = hmax > 0.0 ? (g.joint_entropy - hxy1) / hmax : 0.0;
  const double ic2 = std::sqrt(std::max(0.0, 1.0 - std::exp(-2.0 * (hxy2 - g.joint_entropy))));

  // IBSI order (codes as in glcm.cc); dissimilarity equals difference average.
  const double values[kNumGlcmFeatures] = {
      g.joint_max,      // GYBY
      joint_avg,        // 60VM
      joint_var,        // UR99
      g.joint_entropy,  // TU9B
      diff.avg,         // TF7R
      diff.var,         // D3YU
      diff.ent,         // NTRS
      sum.avg,          // ZGXS
      sum.var,          // OEEB
      sum.ent,          // P6QZ
      g.asm_,           // 8ZQL
      diff.contrast,    // ACUI
      diff.avg,         // 8S9J dissimilarity
      diff.id,          // IB1Z
      diff.nid,         // NDRX
      diff.idm,         // WF0Z
      diff.nidm,        // 1QCO
      diff.inv_var,     // E8JP
      correlation,      // NI2N
      g.autocorr,       // QWB0
      sum.tendency,     // DG8W
      sum.shade,        // 7NFM
      sum.prominence,   // AE86
      ic1,              // R8DG
      ic2,              // JN9H
  };
  std::copy(values, values + kNumGlcmFeatures, out);
  return true;
}

void CanonicalizeEntries(std::vector<RunEntry>* entries) {
  auto& e = *entries;
  std::sort(e.begin(), e.end(), [](const RunEntry& a, const RunEntry& b) {
    return a.j != b.j ? a.j < b.j : a.i < b.i;
  });
  size_t w = 0;
  for (size_t r = 0; r < e.size(); ++r) {
    if (w > 0 && e[w - 1].j == e[r].j && e[w - 1].i == e[r].i) {
      e[w - 1].n += e[r].n;
    } else {
      e[w++] = e[r];
    }
  }
  e.resize(w);
}

bool RunLikeFeatures(const std::vector<RunEntry>& entries, int ng, double nv, double* out) {
  double ns = 0.0;
  for (const RunEntry& e : entries) ns += e.n;
  if (ns <= 0.0) return false;
  std::vector<double> row(ng + 1, 0.0);
  double se = 0, le = 0, lge = 0, hge = 0, slge = 0, shge = 0, llge = 0, lhge = 0;
  double jnu = 0, mu_i = 0, mu_j = 0, entropy = 0, energy = 0;
  size_t k = 0;
  while (k < entries.size()) {
    const int64_t jv = entries[k].j;
    const double j = static_cast<double>(jv), j2 = j * j;
    double col = 0.0;
    for (; k < entries.size() && entries[k].j == jv; ++k) {
      const double n = entries[k].n;
      if (n == 0.0) continue;
      const double i = entries[k].i, i2 = i * i;
      se += n / j2;
      le += n * j2;
      lge += n / i2;
      hge += n * i2;
      slge += n / (i2 * j2);
      shge += n * i2 / j2;
      llge += n * j2 / i2;
      lhge += n * i2 * j2;
      row[entries[k].i] += n;
      col += n;
      mu_i += i * n;
      mu_j += j * n;
      const double p = n / ns;
      entropy -= p * std::log2(p);
      energy += p * p;
    }
    jnu += col * col;
  }
  double glnu = 0.0;
  for (int i = 1; i <= ng; ++i) glnu += row[i] * row[i];
  mu_i /= ns;
  mu_j /= ns;
  double var_i = 0.0, var_j = 0.0;
  for (const RunEntry& e : entries) {
    var_i += (e.i - mu_i) * (e.i - mu_i) * e.n;
    var_j += (e.j - mu_j) * (e.j - mu_j) * e.n;
  }
  const double values[kNumRunLikeFeatures] = {
      se / ns,   le / ns,    lge / ns,   hge / ns,         slge / ns, shge / ns,
      llge / ns, lhge / ns,  glnu / ns,  glnu / (ns * ns), jnu / ns,  jnu / (ns * ns),
      ns / nv,   var_i / ns, var_j / ns, entropy,          energy};
  std::copy(values, values + kNumRunLikeFeatures, out);
  return true;
}

bool NgtdmFeatures(const double* n, const double* s, int ng, double* out) {
  double nvc = 0.0, sum_s = 0.0;
  for (int i = 1; i <= ng; ++i) {
    nvc += n[i];
    sum_s += s[i];
  }
  if (nvc <= 0.0) return false;
  std::vector<int> present;
  std::vector<double> p(ng + 1, 0.0);
  double sum_ps = 0.0;
  for (int i = 1; i <= ng; ++i) {
    p[i] = n[i] / nvc;
    if (p[i] > 0.0) present.push_back(i);
    sum_ps += p[i] * s[i];
  }
  const double ngp = static_cast<double>(present.size());
  // IBSI QCDE: coarseness is set to 10^6 when sum(p_i s_i) = 0.
  const double coarseness = sum_ps > 0.0 ? 1.0 / sum_ps : 1e6;
  double contrast_sum = 0.0, busy_den = 0.0, complexity = 0.0, strength_num = 0.0;
  for (int i : present) {
    for (int j : present) {
      const double d = i - j;
      contrast_sum += p[i] * p[j] * d * d;
      busy_den += std::abs(i * p[i] - j * p[j]);
      complexity += std::abs(d) * (p[i] * s[i] + p[j] * s[j]) / (p[i] + p[j]);
      strength_num += (p[i] + p[j]) * d * d;
    }
  }
  const double contrast = ngp > 1.0 ? contrast_sum / (ngp * (ngp - 1.0)) * (sum_s / nvc) : 0.0;
  const double busyness = busy_den > 0.0 ? sum_ps / busy_den : 0.0;
  complexity /= nvc;
  const double strength = sum_s > 0.0 ? strength_num / sum_s : 0.0;
  out[0] = coarseness;
  out[1] = contrast;
  out[2] = busyness;
  out[3] = complexity;
  out[4] = strength;
  return true;
}

}  // namespace fedrad::features::texture_internal
