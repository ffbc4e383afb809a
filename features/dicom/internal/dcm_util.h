// Small DCMTK (dcmdata) helpers for features/dicom: loading a file and
// reading attributes by tag. Includes DCMTK headers: only for .cc files of
// features/dicom. Private.
#ifndef FEDRAD_FEATURES_DICOM_INTERNAL_DCM_UTIL_H_
#define FEDRAD_FEATURES_DICOM_INTERNAL_DCM_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/status.h"
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcfilefo.h"

namespace fedrad::features::dicom_internal {

// The whole file, or (with_pixels = false) everything before PixelData.
// DataLoss naming the file when DCMTK cannot parse it.
absl::StatusOr<std::unique_ptr<DcmFileFormat>> LoadDicom(const std::string& path,
                                                        bool with_pixels);

// All values of `tag` joined by '\', trimmed; "" when absent.
std::string GetString(DcmItem* item, const DcmTagKey& tag);
// Numeric values (DS, FD, FL, IS...) of `tag`; empty when absent.
std::vector<double> GetDoubles(DcmItem* item, const DcmTagKey& tag);
// An integer (IS, US, SL...), or `fallback`.
long GetInt(DcmItem* item, const DcmTagKey& tag, long fallback);
// The items of sequence `seq_tag` of `item` (none when absent).
std::vector<DcmItem*> Items(DcmItem* item, const DcmTagKey& seq_tag);
DcmItem* FirstItem(DcmItem* item, const DcmTagKey& seq_tag);

}  // namespace fedrad::features::dicom_internal

#endif  // FEDRAD_FEATURES_DICOM_INTERNAL_DCM_UTIL_H_
