// The synthetic abdomen: patient anatomy (liver, metastases, body) drawn from
// latent variables, and its rendering into a CT volume plus liver and lesion
// label maps under a center's acquisition protocol. No ITK, no file I/O.
//
//   Rng rng(seed);
//   Anatomy a = DrawAnatomy(latents, rng);          // lesions may shrink to fit
//   RenderedCase c = RenderCase(a, acquisition, rng);
//
// Coordinates are physical millimetres in the ITK/DICOM LPS frame (x to the
// patient's left, y posterior, z superior) with the origin at the centre of
// the volume. The phantom is a miniature abdomen (about 0.4x anatomical
// size) so that a 128 x 128 matrix at 0.7-0.9 mm holds it; lesion diameters
// are measured in the phantom. See docs/synthetic-cohort.md.
#ifndef FEDRAD_SYNTH_INTERNAL_PHANTOM_H_
#define FEDRAD_SYNTH_INTERNAL_PHANTOM_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "synth/cohort.h"
#include "synth/internal/random.h"

namespace fedrad::synth_internal {

using Vec3 = std::array<double, 3>;

// Low-order smooth shape modulation: radius factor 1 + sum c_i Y_i(u) for a
// unit direction u, with Y = {xy, yz, xz, x^2 - y^2, (3z^2 - 1)/2}.
struct ShapeModulation {
  std::array<double, 5> c{0, 0, 0, 0, 0};
  double Factor(const Vec3& u) const;
};

struct Lesion {
  Vec3 center{0, 0, 0};
  double radius_mm = 5;       // nominal radius (before the shape modulation)
  ShapeModulation shape;
  double base_hu = 60;        // viable tumour attenuation
  double core_fraction = 0;   // necrotic core radius / lesion radius
  double rim_hu = 0;          // peripheral rim enhancement (added)
  double texture_sd_hu = 10;  // SD of the internal texture
};

// Latent and clinical inputs of the anatomy (see outcomes.h).
struct AnatomyInputs {
  double h_lesion = 0;       // lesion heterogeneity, N(0, 1)
  double h_parenchyma = 0;   // parenchymal texture, N(0, 1)
  int n_lesions = 1;         // requested metastases, 1..6
  double largest_diameter_mm = 16;  // requested diameter of the largest
};

struct Anatomy {
  // Body: ellipse in x-y (semi-axes), constant along z, subcutaneous fat rim.
  double body_a = 42, body_b = 33, fat_mm = 5;
  Vec3 liver_center{-16, -3, 0};
  Vec3 liver_semi{21, 19, 26};
  ShapeModulation liver_shape;
  double parenchyma_hu = 105;        // mean parenchymal attenuation
  double parenchyma_sd_hu = 9;       // SD of the parenchymal texture
  std::vector<Lesion> lesions;       // label i+1 is lesions[i]
  // Is the point inside the liver shape (lesions excluded from the test)?
  bool InLiverShape(const Vec3& p) const;
  // 0 outside every lesion, else the lesion's label (1-based).
  int LesionAt(const Vec3& p) const;
};

// Draws the anatomy. Lesions are placed inside the liver without touching
// each other; one that does not fit shrinks (to at least 4 mm radius) and is
// dropped only if it still does not fit, so anatomy.lesions.size() may be
// below inputs.n_lesions (the manifest reports what was drawn).
Anatomy DrawAnatomy(const AnatomyInputs& inputs, Rng& rng);

// A center's acquisition and reconstruction protocol.
using Acquisition = fedrad::synth::CenterProtocol;

struct Grid {
  std::array<int, 3> size{128, 128, 24};
  std::array<double, 3> spacing{0.78, 0.78, 2.5};
  std::array<double, 3> origin{0, 0, 0};  // centre of voxel (0,0,0), mm
  size_t NumVoxels() const {
    return static_cast<size_t>(size[0]) * size[1] * size[2];
  }
};

struct RenderedCase {
  Grid grid;
  std::vector<int16_t> ct;       // HU, x fastest
  std::vector<uint8_t> liver;    // 1 inside the liver (lesions included)
  std::vector<uint8_t> lesions;  // 0, or the lesion's label 1..m
};

// Renders the anatomy on the center's grid: `matrix` x `matrix` pixels of
// acquisition.pixel_mm, round(z_extent_mm / slice_mm) slices. The object is
// sampled on sub-slices of at most 1.25 mm and averaged over each slice
// (slice profile), blurred in plane by the kernel, noised, offset, rounded
// and clamped to [-1024, 3071]. Masks are sampled at voxel centres.
RenderedCase RenderCase(const Anatomy& anatomy, const Acquisition& acquisition,
                        int matrix, double z_extent_mm, Rng& rng);

}  // namespace fedrad::synth_internal

#endif  // FEDRAD_SYNTH_INTERNAL_PHANTOM_H_
