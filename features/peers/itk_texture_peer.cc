// Copied from /work/shared/peers/itk_peer/itk_texture_peer.cxx (the project's peer program) so
// that it builds beside extract_process_benchmark.
// Peer for the performance bar: ITK 5.2's own texture filters (GLCM and GLRLM) on an image + mask,
// 13 3D offsets, a fixed number of bins over the ROI's range. Prints features and the compute time.
#include <chrono>
#include <iostream>
#include "itkImage.h"
#include "itkImageFileReader.h"
#include "itkImageRegionConstIterator.h"
#include "itkNeighborhood.h"
#include "itkScalarImageToCooccurrenceMatrixFilter.h"
#include "itkHistogramToTextureFeaturesFilter.h"
#include "itkScalarImageToRunLengthFeaturesFilter.h"

using Image = itk::Image<short, 3>;
using Mask = itk::Image<short, 3>;

int main(int argc, char** argv) {
  if (argc < 3) { std::cerr << "usage: itk_texture_peer IMAGE MASK [BINS=32]\n"; return 2; }
  unsigned bins = argc > 3 ? std::stoi(argv[3]) : 32;
  auto ri = itk::ImageFileReader<Image>::New(); ri->SetFileName(argv[1]); ri->Update();
  auto rm = itk::ImageFileReader<Mask>::New(); rm->SetFileName(argv[2]); rm->Update();
  Image::Pointer img = ri->GetOutput(); Mask::Pointer mask = rm->GetOutput();
  mask->CopyInformation(img);
  short lo = 32767, hi = -32768; long n = 0;
  itk::ImageRegionConstIterator<Image> it(img, img->GetLargestPossibleRegion());
  itk::ImageRegionConstIterator<Mask> mt(mask, mask->GetLargestPossibleRegion());
  for (; !it.IsAtEnd(); ++it, ++mt) if (mt.Get() > 0) { lo = std::min(lo, it.Get()); hi = std::max(hi, it.Get()); ++n; }
  // the 13 unique 3D directions at distance 1
  using Offsets = itk::VectorContainer<unsigned char, Image::OffsetType>;
  auto offsets = Offsets::New(); unsigned k = 0;
  for (int z = -1; z <= 1; ++z) for (int y = -1; y <= 1; ++y) for (int x = -1; x <= 1; ++x) {
    Image::OffsetType o = {{x, y, z}};
    if (z > 0 || (z == 0 && y > 0) || (z == 0 && y == 0 && x > 0)) offsets->InsertElement(k++, o);
  }
  auto t0 = std::chrono::steady_clock::now();
  using GLCM = itk::Statistics::ScalarImageToCooccurrenceMatrixFilter<Image>;
  auto glcm = GLCM::New(); glcm->SetInput(img); glcm->SetMaskImage(mask); glcm->SetInsidePixelValue(1);
  glcm->SetOffsets(offsets); glcm->SetNumberOfBinsPerAxis(bins); glcm->SetPixelValueMinMax(lo, hi + 1);
  glcm->SetNormalize(false); glcm->Update();
  std::cerr << "glcm_total=" << glcm->GetOutput()->GetTotalFrequency() << " lo=" << lo << " hi=" << hi << "\n";
  using Tex = itk::Statistics::HistogramToTextureFeaturesFilter<GLCM::HistogramType>;
  auto tex = Tex::New(); tex->SetInput(glcm->GetOutput()); tex->Update();
  auto t1 = std::chrono::steady_clock::now();
  using RL = itk::Statistics::ScalarImageToRunLengthFeaturesFilter<Image>;
  auto rl = RL::New(); rl->SetInput(img); rl->SetMaskImage(mask); rl->SetInsidePixelValue(1);
  rl->SetOffsets(offsets); rl->SetNumberOfBinsPerAxis(bins); rl->SetPixelValueMinMax(lo, hi + 1);
  rl->SetDistanceValueMinMax(0, 1000); rl->Update();
  auto t2 = std::chrono::steady_clock::now();
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  std::cout << "roi_voxels," << n << "\nglcm_energy," << tex->GetEnergy() << "\nglcm_entropy," << tex->GetEntropy()
            << "\nglcm_correlation," << tex->GetCorrelation() << "\nglcm_inertia," << tex->GetInertia()
            << "\nglrlm_sre_mean," << rl->GetFeatureMeans()->ElementAt(0) << "\n";
  std::cerr << "glcm_ms=" << ms(t0, t1) << " glrlm_ms=" << ms(t1, t2) << " total_ms=" << ms(t0, t2) << "\n";
}
