// Writes the generated seed corpora of the fuzz targets (the committed
// tests/fuzz/corpus/ came from it; tests/fuzz/make_corpus.sh adds the
// repository's own files):
//   fuzz_site_task, fuzz_coordinator_result  an honest in-process run of
//       tests/fuzz/fixtures/study.textproto (site_harness.h): every task the
//       coordinator sent (one per kind and site, binary fedrad.v1.Task) and
//       the whole sequence of the sites' answers (a CoordinatorScript);
//   fuzz_report   that run's results.json;
//   fuzz_audit    a site's and a coordinator's audit logs (audit::AuditLog);
//   fuzz_pem      a CA certificate, CRL (empty and with an entry), a site
//                 certificate, key and CSR (core/pki.h);
//   fuzz_rounds   a transcript of signed contributions (rounds::Sign);
//   fuzz_image    tiny volumes (features::WriteImage), first byte = format;
//   fuzz_dicom    a CT slice, an RTSTRUCT and SEGs on dicom_fixture.h's series.
//
//   fuzz_make_seeds CORPUS_DIR
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/audit_log.h"
#include "core/csv.h"
#include "core/hash.h"
#include "core/pki.h"
#include "features/dicom/dicom.h"
#include "features/dicom/dicom_write.h"
#include "features/image_io.h"
#include "proto/payload.h"
#include "proto/results_json.h"
#include "proto/round_signing.h"
#include "rounds/transcript.h"
#include "tests/fuzz/dicom_fixture.h"
#include "fuzz_inputs.pb.h"  // generated into the build root
#include "tests/fuzz/site_harness.h"

namespace fs = std::filesystem;
using fedrad::v1::Task;

namespace {

void Write(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string Read(const fs::path& path) {
  auto text = fedrad::ReadFileToString(path.string());
  return text.ok() ? *text : std::string();
}

void Check(const absl::Status& s, const std::string& what) {
  if (!s.ok()) {
    std::cerr << "make_seeds: " << what << ": " << s << "\n";
    std::exit(1);
  }
}

void StudySeeds(const fs::path& out) {
  fedrad::fuzz::Federation federation;
  Check(federation.RunStudy(), "the honest study");
  fedrad::fuzz::CoordinatorScript script;
  std::set<std::string> written;
  for (const auto& [task, result] : federation.log) {
    *script.add_results() = result;
    const std::string site = task.task_id().substr(task.task_id().rfind('/') + 1);
    const std::string name =
        absl::StrCat(absl::StrReplaceAll(task.kind(), {{".", "_"}}), "-", site);
    if (!written.insert(name).second) continue;
    Write(out / "fuzz_site_task" / name, task.SerializeAsString());
  }
  Write(out / "fuzz_coordinator_result" / "honest_study", script.SerializeAsString());
  Write(out / "fuzz_report" / "fuzz_study.json",
        fedrad::PrintResults(federation.results).value_or(""));
  std::cout << federation.log.size() << " tasks, " << written.size() << " site seeds\n";
}

void PkiAuditRoundSeeds(const fs::path& out, const fs::path& tmp) {
  namespace pki = fedrad::pki;
  const std::string ca = (tmp / "ca").string();
  Check(pki::InitCa(ca, {}), "InitCa");
  const std::string ids = (tmp / "ids").string();
  for (const char* site : {"A", "B", "C"}) {
    Check(pki::IssueIdentity(ca, site, pki::Role::kSite, ids).status(), site);
  }
  Check(pki::IssueIdentity(ca, "coordinator", pki::Role::kCoordinator, ids).status(), "coord");
  Check(pki::CreateKeyAndCsr("D", pki::Role::kSite, ids + "/D.key", ids + "/D.csr"), "csr");
  Write(out / "fuzz_pem" / "ca.crt", Read(ca + "/ca.crt"));
  Write(out / "fuzz_pem" / "crl_empty.pem", Read(ca + "/crl.pem"));
  Write(out / "fuzz_pem" / "site.crt", Read(ids + "/A.crt"));
  Write(out / "fuzz_pem" / "coordinator.crt", Read(ids + "/coordinator.crt"));
  Write(out / "fuzz_pem" / "site.key", Read(ids + "/A.key"));
  Write(out / "fuzz_pem" / "site.csr", Read(ids + "/D.csr"));
  Check(pki::Revoke(ca, ids + "/C.crt", "keyCompromise"), "revoke");
  Write(out / "fuzz_pem" / "crl_revoked.pem", Read(ca + "/crl.pem"));

  // Audit logs: a site and the coordinator exchanging three tasks.
  namespace audit = fedrad::audit;
  auto open = [&](const std::string& name, const std::string& node, const std::string& id) {
    audit::AuditLogOptions o;
    o.path = (tmp / name).string();
    o.node_id = node;
    o.key_path = ids + "/" + id + ".key";
    o.cert_path = ids + "/" + id + ".crt";
    o.checkpoint_every = 3;
    auto log = audit::AuditLog::Open(o);
    Check(log.status(), name);
    return *std::move(log);
  };
  auto site_log = open("site.log", "site:A", "A");
  auto coord_log = open("coordinator.log", "coordinator", "coordinator");
  for (int i = 0; i < 3; ++i) {
    const std::string payload = absl::StrCat("payload ", i);
    audit::AuditEvent e;
    e.study_id = "fuzz";
    e.task_id = absl::StrCat("fuzz/e0/", i, "/A");
    e.kind = "cohort.moments";
    e.payload_sha256 = fedrad::Sha256Hex(payload);
    e.summary = "moments";
    e.direction = audit::Direction::kReceived;
    e.peer = "coordinator";
    Check(site_log->Append(e), "append");
    e.direction = audit::Direction::kSent;
    Check(site_log->Append(e), "append");
    e.peer = "A";
    Check(coord_log->Append(e), "append");
    e.direction = audit::Direction::kReceived;
    Check(coord_log->Append(e), "append");
  }
  Check(site_log->Close(), "close");
  Check(coord_log->Close(), "close");
  const std::string site_text = Read(tmp / "site.log");
  const std::string coord_text = Read(tmp / "coordinator.log");
  Write(out / "fuzz_audit" / "site_log", site_text);
  Write(out / "fuzz_audit" / "site_and_coordinator", site_text + "\n====\n" + coord_text);

  // A transcript: the three sites' signed contributions to one round.
  fedrad::v1::Transcript transcript;
  for (const char* site : {"A", "B", "C"}) {
    fedrad::v1::Payload payload;
    fedrad::AddScalar(&payload, "n", 50);
    fedrad::AddVector(&payload, "sum_x", {1.5, -2.0, 3.25});
    fedrad::v1::Payload inputs;
    fedrad::AddVector(&inputs, "beta", {0.1, 0.2, 0.3});
    auto c = fedrad::rounds::MakeContribution(payload, {"n", "sum_x"}, inputs);
    Check(c.status(), "contribution");
    fedrad::v1::RoundMessage m;
    m.set_study_id("fuzz");
    m.set_site(site);
    m.set_round_id(fedrad::rounds::EvalRound("cox", fedrad::rounds::kDevelopmentFit, 0));
    m.set_kind("models.derivatives");
    *m.mutable_contribution() = *c;
    auto key = pki::PrivateKey::Load(ids + "/" + site + ".key");
    Check(key.status(), "key");
    auto s = fedrad::rounds::Sign(m, **key, Read(ids + "/" + site + ".crt"));
    Check(s.status(), "sign");
    *transcript.add_messages() = *s;
  }
  Write(out / "fuzz_rounds" / "contributions", transcript.SerializeAsString());
}

void ImageSeeds(const fs::path& out, const fs::path& tmp) {
  const char* kExt[] = {".nii", ".nrrd", ".mha", ".nii.gz"};
  fedrad::features::ImageVolume ct = fedrad::fuzz::TinyCt();
  fedrad::features::LabelVolume mask;
  mask.geometry = ct.geometry;
  for (uint8_t v : fedrad::fuzz::TinyMask()) mask.voxels.push_back(v);
  for (int i = 0; i < 4; ++i) {
    const std::string image = (tmp / absl::StrCat("ct", kExt[i])).string();
    const std::string labels = (tmp / absl::StrCat("mask", kExt[i])).string();
    Check(fedrad::features::WriteImage(ct, image), image);
    Check(fedrad::features::WriteLabelMap(mask, labels), labels);
    const std::string prefix(1, static_cast<char>(i));
    Write(out / "fuzz_image" / absl::StrCat("ct", i), prefix + Read(image));
    Write(out / "fuzz_image" / absl::StrCat("mask", i), prefix + Read(labels));
  }
}

void DicomSeeds(const fs::path& out, const fs::path& tmp) {
  namespace dicom = fedrad::features::dicom;
  const fedrad::features::ImageVolume ct = fedrad::fuzz::TinyCt();
  auto uids = dicom::WriteCtSeries(ct, (tmp / "series").string(), fedrad::fuzz::TinyCtOptions());
  Check(uids.status(), "series");
  const std::vector<uint8_t> mask = fedrad::fuzz::TinyMask();
  dicom::RoiSpec lesion;
  lesion.name = "Lesion";
  lesion.contours = dicom::MaskContours(ct.geometry, mask, *uids);
  Check(dicom::WriteRtstruct(*uids, {lesion}, (tmp / "rs.dcm").string(), "fedrad-fuzz"),
        "rtstruct");
  Write(out / "fuzz_dicom" / "rtstruct.dcm", Read(tmp / "rs.dcm"));
  for (bool fractional : {false, true}) {
    dicom::SegWriteOptions o;
    o.fractional = fractional;
    const fs::path seg = tmp / (fractional ? "seg_fractional.dcm" : "seg_binary.dcm");
    Check(dicom::WriteSeg(*uids, ct.geometry, {{"Lesion", mask}}, seg.string(), o), "seg");
    Write(out / "fuzz_dicom" / seg.filename(), Read(seg));
  }
  for (const auto& entry : fs::directory_iterator(tmp / "series")) {
    Write(out / "fuzz_dicom" / "ct_slice.dcm", Read(entry.path()));
    break;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_make_seeds CORPUS_DIR\n";
    return 2;
  }
  const fs::path out = argv[1];
  const fs::path tmp = fs::temp_directory_path() / absl::StrCat("fedrad-seeds-", ::getpid());
  fs::create_directories(tmp);
  StudySeeds(out);
  PkiAuditRoundSeeds(out, tmp);
  ImageSeeds(out, tmp);
  DicomSeeds(out, tmp);
  fs::remove_all(tmp);
  return 0;
}
