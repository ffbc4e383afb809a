// Tests of the phantom, the outcome model and the seeded random numbers.
#include "synth/internal/phantom.h"

#include <cmath>
#include <limits>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "synth/internal/outcomes.h"
#include "synth/internal/random.h"

namespace fedrad::synth_internal {
namespace {

TEST(Rng, SameSeedGivesSameSequence) {
  Rng a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 1000; ++i) {
    const double x = a.Normal();
    EXPECT_EQ(x, b.Normal());
    differs |= x != c.Normal();
  }
  EXPECT_TRUE(differs);
}

TEST(Rng, MomentsMatchTheDistributions) {
  Rng rng(7);
  const int n = 200000;
  double su = 0, sn = 0, sn2 = 0, se = 0;
  for (int i = 0; i < n; ++i) {
    const double u = rng.Uniform();
    ASSERT_GT(u, 0.0);
    ASSERT_LT(u, 1.0);
    su += u;
    const double z = rng.Normal();
    sn += z;
    sn2 += z * z;
    se += rng.Exponential();
  }
  // Standard errors: 0.29/sqrt(n) = 6.5e-4, 1/sqrt(n) = 2.2e-3; 5 SE allowed.
  EXPECT_NEAR(su / n, 0.5, 0.004);
  EXPECT_NEAR(sn / n, 0.0, 0.011);
  EXPECT_NEAR(sn2 / n, 1.0, 0.016);
  EXPECT_NEAR(se / n, 1.0, 0.011);
}

AnatomyInputs Inputs(double hl, double hp, int n, double d) {
  AnatomyInputs in;
  in.h_lesion = hl;
  in.h_parenchyma = hp;
  in.n_lesions = n;
  in.largest_diameter_mm = d;
  return in;
}

TEST(DrawAnatomy, LesionsLieInsideTheLiverAndApart) {
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Rng rng(seed);
    const Anatomy a = DrawAnatomy(Inputs(0, 0, 6, 26), rng);
    ASSERT_FALSE(a.lesions.empty()) << seed;
    for (size_t i = 0; i < a.lesions.size(); ++i) {
      const Lesion& l = a.lesions[i];
      EXPECT_GE(l.radius_mm, 4.0);
      // Points on the lesion's outer envelope (1.2 R) are in the liver.
      for (int k = 0; k < 26; ++k) {
        const double th = 2 * M_PI * k / 26, ph = M_PI * ((k * 7) % 26) / 26;
        const Vec3 u{std::sin(ph) * std::cos(th), std::sin(ph) * std::sin(th), std::cos(ph)};
        const Vec3 p{l.center[0] + 1.15 * l.radius_mm * u[0], l.center[1] + 1.15 * l.radius_mm * u[1],
                     l.center[2] + 1.15 * l.radius_mm * u[2]};
        EXPECT_TRUE(a.InLiverShape(p)) << "seed " << seed << " lesion " << i;
      }
      for (size_t j = 0; j < i; ++j) {
        const Lesion& o = a.lesions[j];
        const double d = std::hypot(l.center[0] - o.center[0], l.center[1] - o.center[1],
                                    l.center[2] - o.center[2]);
        EXPECT_GT(d, 1.2 * (l.radius_mm + o.radius_mm));
      }
    }
  }
}

Acquisition Protocol(double slice, double noise, double offset) {
  Acquisition p;
  p.center = "T";
  p.pixel_mm = 0.8;
  p.slice_mm = slice;
  p.kernel_sigma_mm = 0.6;
  p.noise_hu = noise;
  p.hu_offset = offset;
  return p;
}

TEST(RenderCase, MasksNestAndEveryLesionIsVisible) {
  for (double slice : {1.0, 2.5, 5.0}) {
    for (uint64_t seed = 0; seed < 10; ++seed) {
      Rng rng(seed);
      const Anatomy a = DrawAnatomy(Inputs(0.5, 0, 6, 20), rng);
      const RenderedCase c = RenderCase(a, Protocol(slice, 10, 0), 128, 60, rng);
      EXPECT_EQ(c.grid.size[2], static_cast<int>(std::lround(60 / slice)));
      std::set<int> labels;
      for (size_t i = 0; i < c.ct.size(); ++i) {
        if (c.lesions[i]) {
          labels.insert(c.lesions[i]);
          ASSERT_EQ(c.liver[i], 1) << "lesion voxel outside the liver";
        }
      }
      EXPECT_EQ(labels.size(), a.lesions.size()) << "slice " << slice << " seed " << seed;
    }
  }
}

// Mean and SD of the CT over the liver minus lesions (BKG); with `interior`
// only voxels whose neighbours 3 pixels and 1 slice away are BKG too, so
// that partial volume at the edges does not dominate.
std::pair<double, double> BkgStats(const RenderedCase& c, bool interior = false) {
  const int nx = c.grid.size[0], ny = c.grid.size[1], nz = c.grid.size[2];
  auto bkg = [&](int x, int y, int z) {
    if (x < 0 || y < 0 || z < 0 || x >= nx || y >= ny || z >= nz) return false;
    const size_t i = (static_cast<size_t>(z) * ny + y) * nx + x;
    return c.liver[i] == 1 && c.lesions[i] == 0;
  };
  double s = 0, s2 = 0, n = 0;
  for (int z = 0; z < nz; ++z) {
    for (int y = 0; y < ny; ++y) {
      for (int x = 0; x < nx; ++x) {
        if (!bkg(x, y, z)) continue;
        if (interior && !(bkg(x - 3, y, z) && bkg(x + 3, y, z) && bkg(x, y - 3, z) &&
                          bkg(x, y + 3, z) && bkg(x, y, z - 1) && bkg(x, y, z + 1))) {
          continue;
        }
        const double v = c.ct[(static_cast<size_t>(z) * ny + y) * nx + x];
        s += v;
        s2 += v * v;
        n += 1;
      }
    }
  }
  const double m = s / n;
  return {m, std::sqrt(s2 / n - m * m)};
}

TEST(RenderCase, OffsetShiftsEveryUnclampedVoxel) {
  Rng r1(3), r2(3);
  const Anatomy a = DrawAnatomy(Inputs(0, 0, 2, 16), r1);
  DrawAnatomy(Inputs(0, 0, 2, 16), r2);
  const RenderedCase c0 = RenderCase(a, Protocol(2.5, 12, 0), 128, 60, r1);
  const RenderedCase c40 = RenderCase(a, Protocol(2.5, 12, 40), 128, 60, r2);
  for (size_t i = 0; i < c0.ct.size(); ++i) {
    if (c0.ct[i] > -1000) {
      ASSERT_EQ(c40.ct[i] - c0.ct[i], 40);
    }
  }
  EXPECT_NEAR(BkgStats(c40).first - BkgStats(c0).first, 40, 1e-9);
}

TEST(RenderCase, ParenchymalTextureGrowsWithItsLatent) {
  double sd_low = 0, sd_high = 0;
  for (uint64_t seed = 0; seed < 5; ++seed) {
    Rng r1(seed), r2(seed);
    const Anatomy lo = DrawAnatomy(Inputs(0, -1.5, 1, 12), r1);
    const Anatomy hi = DrawAnatomy(Inputs(0, 1.5, 1, 12), r2);
    sd_low += BkgStats(RenderCase(lo, Protocol(2.5, 0, 0), 128, 60, r1), true).second;
    sd_high += BkgStats(RenderCase(hi, Protocol(2.5, 0, 0), 128, 60, r2), true).second;
  }
  // Texture SD is 9 exp(0.4 h_p): 4.9 vs 16.4 HU (ratio 3.3) before the
  // slice profile and the kernel, which attenuate both alike.
  EXPECT_GT(sd_high, 2.5 * sd_low);
}

TEST(RenderCase, ImageNoiseMatchesTheProtocolAfterTheKernel) {
  // Noise-only difference: same anatomy and texture, noise 0 vs 20 HU.
  Rng r1(5), r2(5);
  const Anatomy a = DrawAnatomy(Inputs(0, 0, 1, 10), r1);
  DrawAnatomy(Inputs(0, 0, 1, 10), r2);
  Acquisition quiet = Protocol(2.5, 0, 0), noisy = Protocol(2.5, 20, 0);
  quiet.kernel_sigma_mm = noisy.kernel_sigma_mm = 1.2;
  const RenderedCase q = RenderCase(a, quiet, 128, 60, r1);
  const RenderedCase n = RenderCase(a, noisy, 128, 60, r2);
  double s2 = 0, cnt = 0;
  for (size_t i = 0; i < q.ct.size(); ++i) {
    if (q.ct[i] > -900) {  // inside the body, away from the clamp
      const double d = n.ct[i] - q.ct[i];
      s2 += d * d;
      cnt += 1;
    }
  }
  EXPECT_NEAR(std::sqrt(s2 / cnt), 20, 1.0);
}

TEST(OutcomeModel, BaselineMediansAreTheDocumentedOnes) {
  Clinical c;  // h = 0, one lesion of 20 mm, no chemo, CEA 5: every lp is 0
  c.largest_diameter_mm = 20;
  c.cea = 5;
  c.age = 40;
  EXPECT_NEAR(LocalModel().Lp(c), 0, 1e-12);
  std::vector<double> local, recurrence;
  Rng rng(11);
  for (int i = 0; i < 20000; ++i) {
    const Outcomes o = DrawOutcomes(c, 0.0, rng);
    local.push_back(o.t_local);
    recurrence.push_back(o.t_recurrence);
  }
  auto median = [](std::vector<double> v) {
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
  };
  EXPECT_NEAR(median(local) / 3000, 1, 0.05);
  const double rate = LocalModel().Lambda() + DistantModel().Lambda();
  const double expected = std::pow(std::log(2.0) / rate, 1 / LocalModel().shape);
  EXPECT_NEAR(median(recurrence) / expected, 1, 0.05);
}

TEST(OutcomeModel, ObservedDataFollowTheCensoringRules) {
  Rng rng(12);
  for (int i = 0; i < 5000; ++i) {
    const Clinical c = DrawClinical(rng);
    const Outcomes o = DrawOutcomes(c, 0.1, rng);
    ASSERT_GE(o.time_recurrence, 1);
    ASSERT_LE(o.time_recurrence, std::ceil(kFollowUpMaxDays));
    // Any recurrence is the first of local and distant.
    ASSERT_LE(o.t_recurrence, o.t_local);
    if (o.event_local_recurrence) {
      ASSERT_TRUE(o.event_recurrence);
    }
    // Disease-specific death only after a recurrence.
    if (o.event_dss) {
      ASSERT_TRUE(o.event_recurrence);
    }
    if (o.event_dss) {
      ASSERT_GE(o.time_dss, o.time_recurrence);
    }
    if (o.recur2y == 1) {
      ASSERT_LE(o.time_recurrence, 730);
    }
    if (o.recur2y == -1) {
      ASSERT_TRUE(!o.event_recurrence && o.time_recurrence < 730);
    }
  }
}

TEST(OutcomeModel, DssProbabilityIsAProbabilityRisingWithRisk) {
  double prev = 0;
  for (double t : {100.0, 500.0, 1825.0, 5000.0}) {
    const double p = ProbabilityDssBy(t, 0, 0, 0, 0);
    EXPECT_GT(p, prev);
    EXPECT_LT(p, 1.0);
    prev = p;
  }
  EXPECT_GT(ProbabilityDssBy(1825, 1, 1, 1, 0), ProbabilityDssBy(1825, 0, 0, 0, 0));
}

TEST(HarrellC, CountsConcordantPairsWithinStrata) {
  // Hand count: times 1(e),2(e),3(c),4(e); risks 4,3,1,2 -> pairs with an
  // earlier event: (1,2)(1,3)(1,4)(2,3)(2,4)(4? none later) = 5, all
  // concordant except (2... none): risks 4>3,4>1,4>2,3>1,3>2 -> C = 1.
  EXPECT_DOUBLE_EQ(HarrellC({4, 3, 1, 2}, {1, 2, 3, 4}, {1, 1, 0, 1}, {0, 0, 0, 0}), 1.0);
  // Reversing the risks gives 0; a tie gives 1/2.
  EXPECT_DOUBLE_EQ(HarrellC({1, 2, 4, 3}, {1, 2, 3, 4}, {1, 1, 0, 1}, {0, 0, 0, 0}), 0.0);
  EXPECT_DOUBLE_EQ(HarrellC({1, 1}, {1, 2}, {1, 0}, {0, 0}), 0.5);
  // Different strata are never compared.
  EXPECT_TRUE(std::isnan(HarrellC({1, 2}, {1, 2}, {1, 0}, {0, 1})));
}

}  // namespace
}  // namespace fedrad::synth_internal
