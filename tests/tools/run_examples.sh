#!/bin/bash
# Runs every example study (examples/studies/*.textproto, plus the two model
# studies of models/testdata) and `fedrad demo` with the binaries in BINDIR,
# writing OUTROOT/<study>/results.json. With compare_results.py it shows that a
# change kept every results.json value (issue 16: results.json printed from
# proto/results.proto had to equal the hand-built one):
#
#   tests/tools/run_examples.sh /tmp/before-bin /tmp/before .   # old build's bin/ copied aside
#   tests/tools/run_examples.sh build/bin /tmp/after .
#   python3 tests/tools/compare_results.py /tmp/before /tmp/after
#
# Usage: run_examples.sh BINDIR OUTROOT SOURCE_DIR. Takes a few minutes on two cores.
B=$1; O=$2; S=$3
mkdir -p $O
H="--site S1=$S/harmonization/testdata/site_S1.csv --site S2=$S/harmonization/testdata/site_S2.csv --site S3=$S/harmonization/testdata/site_S3.csv --site S4=$S/harmonization/testdata/site_S4.csv"
M="--site A=$S/models/testdata/site_A.csv --site B=$S/models/testdata/site_B.csv --site C=$S/models/testdata/site_C.csv"
C="--site S1=$S/harmonization/testdata/site_S1.csv --site S2=$S/harmonization/testdata/site_S2.csv --site S3=$S/harmonization/testdata/site_S3.csv"
run() { name=$1; study=$2; shift 2; rm -rf $O/$name; timeout 900 $B/fedrad sandbox --study $study --out $O/$name "$@" > $O/$name.log 2>&1; echo "$name rc=$?"; }
run cohort_summary $S/examples/studies/cohort_summary.textproto $C
for s in combat_mean_only combat_no_covariates combat_nonparametric combat_parametric combat_reference_site_S1; do run $s $S/examples/studies/$s.textproto $H; done
for s in cox_secure cox_stratified cox_stratified_efron logistic loso_validation; do run $s $S/examples/studies/$s.textproto $M; done
run develop_validate $S/models/testdata/develop_validate_study.textproto $M
run penalized $S/models/testdata/penalized_study.textproto $M
rm -rf $O/demo; timeout 1500 $B/fedrad demo --quiet --out $O/demo --patients 30,25,80,20 --seed 7 --threads 2 --study $S/examples/studies/crlm_demo.textproto > $O/demo.log 2>&1; echo "demo rc=$?"
