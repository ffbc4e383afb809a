// NIfTI writing (and reading, for tests) of the synthetic volumes through
// ITK; ITK headers stay in nifti.cc.
//
//   FEDRAD_RETURN_IF_ERROR(WriteInt16(grid, ct, "C1/cases/C1_0001/ct.nii.gz"));
//
// Direction is the identity (LPS, as everywhere in fedrad); origin and
// spacing come from the Grid. ".gz" paths are gzip-compressed. Errors:
// DataLoss naming the path and ITK's reason. Thread safe (own ITK objects).
#ifndef FEDRAD_SYNTH_INTERNAL_NIFTI_H_
#define FEDRAD_SYNTH_INTERNAL_NIFTI_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "synth/internal/phantom.h"

namespace fedrad::synth_internal {

absl::Status WriteInt16(const Grid& grid, const std::vector<int16_t>& voxels,
                        const std::string& path);
absl::Status WriteUint8(const Grid& grid, const std::vector<uint8_t>& voxels,
                        const std::string& path);

template <typename T>
struct ReadVolume {
  Grid grid;
  std::vector<T> voxels;
};
absl::StatusOr<ReadVolume<int16_t>> ReadInt16(const std::string& path);
absl::StatusOr<ReadVolume<uint8_t>> ReadUint8(const std::string& path);

}  // namespace fedrad::synth_internal

#endif  // FEDRAD_SYNTH_INTERNAL_NIFTI_H_
