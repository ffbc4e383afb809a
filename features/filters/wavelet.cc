#include "features/filters/wavelet.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status.h"
#include "features/filters/internal/rotations.h"
#include "features/threads.h"

namespace fedrad::features::filters {
namespace {

constexpr int kMaxLevel = 8;

// A 1D convolution as offset/weight pairs: out[i] = sum_t w_t in[i + o_t].
struct Taps {
  std::vector<int> offsets;
  std::vector<double> weights;
  bool operator==(const Taps& other) const {
    return offsets == other.offsets && weights == other.weights;
  }
};

// Runs fn(begin, end) over [0, n) on up to two threads (the work is split
// only when it is large enough to pay for a thread).
template <typename Fn>
void ParallelFor(int n, size_t work, const Fn& fn) {
  if (n < 2 || work < (1u << 17) || ThreadBudget() < 2) {  // features/threads.h
    fn(0, n);
    return;
  }
  const int half = n / 2;
  std::thread other;
  try {
    other = std::thread([&] { fn(half, n); });
  } catch (const std::system_error&) {  // no thread available: run serially
    fn(0, n);
    return;
  }
  fn(0, half);
  other.join();
}

// One 1D pass along `axis` with padding. The volume is cut into groups of
// `run` adjacent lines that are contiguous in memory (run = 1 along x, a
// whole row of x along y and z), so that the inner loop reads memory in
// order: each group is copied, padded, into `ext` ((n + 2 pad) x run), then
// out[i] = sum_t w_t ext[i + pad + o_t].
void ConvolveAxis(const std::vector<double>& in, const std::array<int, 3>& size,
                  int axis, const Taps& taps, Padding padding,
                  std::vector<double>& out) {
  const int nx = size[0], ny = size[1], nz = size[2];
  const int n = size[axis];
  const size_t stride = axis == 0 ? 1 : axis == 1 ? nx : static_cast<size_t>(nx) * ny;
  const int run = axis == 0 ? 1 : nx;
  const int groups = axis == 0 ? ny * nz : axis == 1 ? nz : ny;
  auto group_base = [&](int g) -> size_t {
    if (axis == 0) return static_cast<size_t>(g) * nx;
    if (axis == 1) return static_cast<size_t>(g) * nx * ny;
    return static_cast<size_t>(g) * nx;
  };
  int pad = 0;
  for (int o : taps.offsets) pad = std::max(pad, std::abs(o));
  out.resize(in.size());
  ParallelFor(groups, in.size() * taps.offsets.size(), [&](int begin, int end) {
    std::vector<double> ext(static_cast<size_t>(n + 2 * pad) * run);
    for (int g = begin; g < end; ++g) {
      const size_t base = group_base(g);
      for (int j = 0; j < n + 2 * pad; ++j) {
        const int src = PaddedIndex(j - pad, n, padding);
        double* e = &ext[static_cast<size_t>(j) * run];
        if (src < 0) {
          std::fill(e, e + run, 0.0);
        } else {
          const double* s = &in[base + src * stride];
          std::copy(s, s + run, e);
        }
      }
      for (int i = 0; i < n; ++i) {
        double* o = &out[base + i * stride];
        const double w0 = taps.weights[0];
        const double* e0 = &ext[static_cast<size_t>(i + pad + taps.offsets[0]) * run];
        for (int r = 0; r < run; ++r) o[r] = w0 * e0[r];
        for (size_t t = 1; t < taps.offsets.size(); ++t) {
          const double w = taps.weights[t];
          const double* e = &ext[static_cast<size_t>(i + pad + taps.offsets[t]) * run];
          for (int r = 0; r < run; ++r) o[r] += w * e[r];
        }
      }
    }
  });
}

// Decomposition low-pass kernels in PyWavelets' "dec_lo" order (the
// time-reversed scaling filter). Closed forms from I. Daubechies, "Ten
// Lectures on Wavelets" (SIAM 1992): Daubechies filters of 2, 4 and 6 taps
// (section 6.4, Table 6.1) and the 6-tap coiflet (section 8.2, Table 8.1);
// they equal PyWavelets' pywt.Wavelet(name).dec_lo to 1e-15.
std::vector<double> ReversedScaled(std::vector<double> v, double scale) {
  for (double& x : v) x *= scale;
  std::reverse(v.begin(), v.end());
  return v;
}

absl::StatusOr<std::vector<double>> LowPass(const std::string& family) {
  const std::string f = absl::AsciiStrToLower(family);
  if (f == "haar" || f == "db1") {
    return std::vector<double>{M_SQRT1_2, M_SQRT1_2};
  }
  if (f == "db2") {
    const double r3 = std::sqrt(3.0);
    return ReversedScaled({1 + r3, 3 + r3, 3 - r3, 1 - r3}, 1.0 / (4 * M_SQRT2));
  }
  if (f == "db3") {
    const double r10 = std::sqrt(10.0);
    const double s = std::sqrt(5 + 2 * r10);
    return ReversedScaled({1 + r10 + s, 5 + r10 + 3 * s, 10 - 2 * r10 + 2 * s,
                           10 - 2 * r10 - 2 * s, 5 + r10 - 3 * s, 1 + r10 - s},
                          M_SQRT2 / 32);
  }
  if (f == "coif1") {
    const double r7 = std::sqrt(7.0);
    return ReversedScaled({1 - r7, 5 + r7, 14 + 2 * r7, 14 - 2 * r7, 1 - r7, -3 + r7},
                          1.0 / (16 * M_SQRT2));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("wavelet family '", family, "' is not supported; use one of ",
                   absl::StrJoin(WaveletFamilies(), ", ")));
}

// dec_hi[k] = (-1)^(k+1) dec_lo[n-1-k] (quadrature mirror filter, as
// PyWavelets builds it).
std::vector<double> HighFromLow(const std::vector<double>& lo) {
  const int n = static_cast<int>(lo.size());
  std::vector<double> hi(n);
  for (int k = 0; k < n; ++k) hi[k] = (k % 2 == 0 ? -1.0 : 1.0) * lo[n - 1 - k];
  return hi;
}

// Kernel h as a convolution centred at c = n/2 (a trailing zero appended to
// an even-length kernel), dilated by d: out[i] = sum_k h[k] in[i + d (c - k)].
Taps DilatedTaps(const std::vector<double>& h, int dilation) {
  const int n = static_cast<int>(h.size());
  const int c = n / 2;
  Taps taps;
  for (int k = 0; k < n; ++k) {
    if (h[k] == 0.0) continue;
    taps.offsets.push_back(dilation * (c - k));
    taps.weights.push_back(h[k]);
  }
  return taps;
}

Taps Flipped(Taps t) {
  for (int& o : t.offsets) o = -o;
  return t;
}

absl::Status Validate(const ImageVolume& image, const WaveletParams& p) {
  FEDRAD_RETURN_IF_ERROR(LowPass(p.family).status());
  const size_t dims = p.in_plane ? 2 : 3;
  const std::string d = absl::AsciiStrToUpper(p.decomposition);
  if (d.size() != dims || d.find_first_not_of("LH") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "wavelet decomposition '", p.decomposition, "' is not valid; give ", dims,
        " letters L or H, one per axis in x y", p.in_plane ? "" : " z",
        " order (e.g. ", p.in_plane ? "LH" : "LHL", ")"));
  }
  if (p.level < 1 || p.level > kMaxLevel) {
    return absl::InvalidArgumentError(absl::StrCat(
        "wavelet level ", p.level, " is out of range; use 1 to ", kMaxLevel));
  }
  const auto& size = image.geometry.size;
  if (size[0] < 1 || size[1] < 1 || size[2] < 1 ||
      image.voxels.size() != image.geometry.NumVoxels()) {
    return absl::InvalidArgumentError(
        "wavelet filter: the image is empty or its voxels do not match its size");
  }
  if (!p.in_plane && size[2] == 1) {
    return absl::InvalidArgumentError(
        "wavelet filter: a 3D decomposition on an image of one slice; set "
        "in_plane (2D, decomposition of 2 letters) for single-slice images");
  }
  return absl::OkStatus();
}

// One rotated operator of one requested decomposition: the 1D passes per
// axis, the output it contributes to and its weight in the mean.
struct Job {
  std::array<std::vector<Taps>, 3> op;
  int output = 0;
  double weight = 1.0;
};

// Runs the jobs depth first, axis by axis, sharing the passes of jobs whose
// passes along the earlier axes are equal (the 8 first-level decompositions
// cost 2 + 4 + 8 passes instead of 24; rotations share likewise). Holds at
// most one intermediate volume per axis.
class Runner {
 public:
  Runner(const ImageVolume& image, int dims, Padding padding, bool max_pooling,
         const std::vector<Job>& jobs, const std::vector<int>& jobs_per_output)
      : geometry_(image.geometry),
        dims_(dims),
        padding_(padding),
        max_pooling_(max_pooling),
        jobs_(jobs),
        jobs_per_output_(jobs_per_output),
        pooled_(jobs_per_output.size()),
        out_(jobs_per_output.size()) {}

  void Run(const std::vector<double>& volume, int axis, const std::vector<int>& jobs) {
    if (axis == dims_) {
      for (int j : jobs) Pool(volume, jobs_[j]);
      return;
    }
    std::vector<bool> done(jobs.size(), false);
    // Buffers kept across groups and calls: no page faults after the first.
    std::vector<double>& work = work_[axis];
    std::vector<double>& scratch = scratch_[axis];
    for (size_t g = 0; g < jobs.size(); ++g) {
      if (done[g]) continue;
      const std::vector<Taps>& passes = jobs_[jobs[g]].op[axis];
      std::vector<int> group;
      for (size_t h = g; h < jobs.size(); ++h) {
        if (!done[h] && jobs_[jobs[h]].op[axis] == passes) {
          done[h] = true;
          group.push_back(jobs[h]);
        }
      }
      const std::vector<double>* current = &volume;
      for (const Taps& t : passes) {
        ConvolveAxis(*current, geometry_.size, axis, t, padding_, scratch);
        work.swap(scratch);
        current = &work;
      }
      Run(*current, axis + 1, group);
    }
  }

  std::vector<ImageVolume> Take() {
    for (size_t o = 0; o < out_.size(); ++o) {
      if (!pooled_[o].empty()) out_[o].voxels.assign(pooled_[o].begin(), pooled_[o].end());
      out_[o].geometry = geometry_;
    }
    return std::move(out_);
  }

 private:
  void Pool(const std::vector<double>& v, const Job& job) {
    const int o = job.output;
    if (jobs_per_output_[o] == 1) {  // no pooling: straight to float
      out_[o].voxels.resize(v.size());
      for (size_t i = 0; i < v.size(); ++i) {
        out_[o].voxels[i] = static_cast<float>(max_pooling_ ? v[i] : job.weight * v[i]);
      }
      return;
    }
    std::vector<double>& pooled = pooled_[o];
    if (pooled.empty()) {
      pooled.assign(v.size(), max_pooling_ ? -HUGE_VAL : 0.0);
    }
    if (max_pooling_) {
      for (size_t i = 0; i < v.size(); ++i) pooled[i] = std::max(pooled[i], v[i]);
    } else {
      for (size_t i = 0; i < v.size(); ++i) pooled[i] += job.weight * v[i];
    }
  }

  const Geometry geometry_;
  const int dims_;
  const Padding padding_;
  const bool max_pooling_;
  const std::vector<Job>& jobs_;
  const std::vector<int>& jobs_per_output_;
  std::vector<std::vector<double>> pooled_;
  std::vector<ImageVolume> out_;
  std::array<std::vector<double>, 3> work_, scratch_;
};

}  // namespace

std::vector<std::string> WaveletFamilies() {
  return {"haar", "db1", "db2", "db3", "coif1"};
}

absl::StatusOr<int> WaveletReach(const WaveletParams& p) {
  FEDRAD_ASSIGN_OR_RETURN(const std::vector<double> lo, LowPass(p.family));
  if (p.level < 1 || p.level > kMaxLevel) {
    return absl::InvalidArgumentError(absl::StrCat(
        "wavelet level ", p.level, " is out of range; use 1 to ", kMaxLevel));
  }
  // Each pass at dilation d reaches d * (n / 2) voxels (DilatedTaps); the
  // dilations are 1, 2, ..., 2^(level-1).
  return static_cast<int>(lo.size() / 2) * ((1 << p.level) - 1);
}

absl::StatusOr<std::vector<double>> WaveletLowPass(const std::string& family) {
  return LowPass(family);
}

absl::StatusOr<std::vector<double>> WaveletHighPass(const std::string& family) {
  FEDRAD_ASSIGN_OR_RETURN(std::vector<double> lo, LowPass(family));
  return HighFromLow(lo);
}

absl::StatusOr<ImageVolume> WaveletResponse(const ImageVolume& image,
                                            const WaveletParams& p) {
  FEDRAD_ASSIGN_OR_RETURN(std::vector<ImageVolume> out,
                          WaveletResponses(image, p, {p.decomposition}));
  return std::move(out[0]);
}

absl::StatusOr<std::vector<ImageVolume>> WaveletResponses(
    const ImageVolume& image, const WaveletParams& p,
    const std::vector<std::string>& decompositions) {
  if (decompositions.empty()) {
    return absl::InvalidArgumentError("wavelet filter: no decomposition given");
  }
  for (const std::string& d : decompositions) {
    WaveletParams one = p;
    one.decomposition = d;
    FEDRAD_RETURN_IF_ERROR(Validate(image, one));
  }
  const int dims = p.in_plane ? 2 : 3;
  FEDRAD_ASSIGN_OR_RETURN(const std::vector<double> lo, LowPass(p.family));
  const std::vector<double> hi = HighFromLow(lo);
  const std::vector<internal::AxisRotation> rotations =
      p.rotation_invariant ? internal::RightAngleRotations(static_cast<int>(dims))
                           : std::vector<internal::AxisRotation>{internal::AxisRotation{}};

  std::vector<Job> jobs;
  std::vector<int> jobs_per_output(decompositions.size(), 0);
  for (size_t out = 0; out < decompositions.size(); ++out) {
    const std::string d = absl::AsciiStrToUpper(decompositions[out]);
    // Per source axis: the low-pass pre-filters of the earlier levels, then
    // the decomposition's kernel at dilation 2^(level-1).
    std::array<std::vector<Taps>, 3> pipeline;
    for (int b = 0; b < dims; ++b) {
      for (int level = 1; level < p.level; ++level) {
        pipeline[b].push_back(DilatedTaps(lo, 1 << (level - 1)));
      }
      pipeline[b].push_back(DilatedTaps(d[b] == 'L' ? lo : hi, 1 << (p.level - 1)));
    }
    // The distinct rotated operators, weighted by how often each occurs.
    const size_t first = jobs.size();
    for (const internal::AxisRotation& m : rotations) {
      Job job;
      job.output = static_cast<int>(out);
      job.weight = 1.0 / rotations.size();
      for (int a = 0; a < dims; ++a) {
        for (const Taps& t : pipeline[m.source[a]]) {
          job.op[a].push_back(m.flip[a] ? Flipped(t) : t);
        }
      }
      auto it = std::find_if(jobs.begin() + first, jobs.end(),
                             [&](const Job& j) { return j.op == job.op; });
      if (it == jobs.end()) {
        jobs.push_back(std::move(job));
        ++jobs_per_output[out];
      } else {
        it->weight += 1.0 / rotations.size();
      }
    }
  }

  Runner runner(image, dims, p.padding,
                p.rotation_invariant && p.pooling == WaveletParams::Pooling::kMax, jobs,
                jobs_per_output);
  const std::vector<double> input(image.voxels.begin(), image.voxels.end());
  std::vector<int> all(jobs.size());
  for (size_t j = 0; j < jobs.size(); ++j) all[j] = static_cast<int>(j);
  runner.Run(input, 0, all);
  return runner.Take();
}

}  // namespace fedrad::features::filters
