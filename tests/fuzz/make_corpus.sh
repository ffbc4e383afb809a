#!/usr/bin/env bash
# Rebuilds the committed seed corpora tests/fuzz/corpus/TARGET/ (keep them
# small: the CI run reads them all):
#   - the generated ones: build-fuzz/fuzz/fuzz_make_seeds (make_seeds.cc);
#   - the repository's own files: example studies, deploy configs, feature
#     presets, a site table, the IBSI phantom (image, mask, voxel table), the
#     DICOM CT slice of tests/data, the report's results fixture.
# fuzz_config and fuzz_image inputs start with a byte choosing the kind of
# file (see fuzz_config.cc, fuzz_image.cc).
#   tests/fuzz/make_corpus.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${FEDRAD_FUZZ_BUILD:-build-fuzz}
C=tests/fuzz/corpus
# Everything but the inputs of fixed findings (regression-*: kept, CI replays them).
find "$C" -type f ! -name 'regression-*' -delete 2>/dev/null || true
mkdir -p "$C"
cmake --build "$BUILD" --target fuzz_make_seeds >/dev/null
"$BUILD/fuzz/fuzz_make_seeds" "$C"

# prefixed N SRC DST: DST = the byte N (0-4), then SRC.
prefixed() { { printf '%b' "\\00$1"; cat "$2"; } >"$3"; }

mkdir -p "$C/fuzz_config" "$C/fuzz_csv" "$C/fuzz_image" "$C/fuzz_dicom" "$C/fuzz_report"
for f in examples/studies/*.textproto models/testdata/develop_validate_study.textproto \
         tests/fuzz/fixtures/study.textproto; do
  prefixed 0 "$f" "$C/fuzz_config/study_$(basename "$f" .textproto)"
done
for f in deploy/compose/config/site-S*.textproto; do
  prefixed 1 "$f" "$C/fuzz_config/$(basename "$f" .textproto)"
done
prefixed 2 deploy/compose/config/coordinator.textproto "$C/fuzz_config/coordinator"
for f in features/presets/ibsi_ct_config_a.textproto features/presets/ibsi2_phase2_3A.textproto \
         features/presets/ibsi2_4_a_1.textproto features/presets/ibsi_digital_phantom.textproto; do
  prefixed 3 "$f" "$C/fuzz_config/features_$(basename "$f" .textproto)"
done
cat > "$C/fuzz_config/approvals" <<'APPROVALS'
approvals {
  study_name: "fuzz"
  spec_sha256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  approved_at: "2026-11-27T00:28:20Z"
  approved_by: "operator"
  expires: "2027-11-27"
}
APPROVALS
prefixed 4 "$C/fuzz_config/approvals" "$C/fuzz_config/approvals.tmp"
mv "$C/fuzz_config/approvals.tmp" "$C/fuzz_config/approvals"

head -12 models/testdata/site_A.csv >"$C/fuzz_csv/site_table.csv"
cp tests/data/ibsi/digital_phantom_voxels.csv "$C/fuzz_csv/phantom_voxels.csv"
cat >"$C/fuzz_csv/manifest.csv" <<'MANIFEST'
case_id,image,lesion_mask,liver_mask,series,rtstruct,seg,lesion_roi,liver_roi
P1,ct/P1.nii.gz,seg/P1_lesion.nii.gz,seg/P1_liver.nii.gz,,,,,
P2,,,,dicom/P2/CT,dicom/P2/RS.dcm,,"^GTV",Liver
"P3",,,,dicom/P3/CT,,dicom/P3/SEG.dcm,#1,#2
MANIFEST

prefixed 3 tests/data/ibsi/nifti/image/phantom.nii.gz "$C/fuzz_image/ibsi_phantom"
prefixed 3 tests/data/ibsi/nifti/mask/mask.nii.gz "$C/fuzz_image/ibsi_mask"
cp tests/data/dicom/CT_small.dcm "$C/fuzz_dicom/CT_small.dcm"
cp report/testdata/results_fixture.json "$C/fuzz_report/results_fixture.json"
du -sh "$C"
