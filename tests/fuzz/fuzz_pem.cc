// Fuzz target: PEM certificates, keys, CSRs and CRLs as `fedrad pki`, the
// audit verifier and the transport read them. The input is one PEM file's
// bytes, tried as each of them against a fixed study CA (made at start):
//   - as a peer's certificate: pki::ParseCertificatePem, ReadCertificate,
//     VerifyCertificatePem, PublicKey::FromCertificatePem,
//     VerifyWithCertificatePem, transport::DescribeCertificate,
//     VerifyPeerCertificate, CheckServerCertificate;
//   - as a private key: PrivateKey::Load, CheckKeyMatchesCertificate;
//   - as a CSR: ReadCsr, CheckCsrExpectations, SignCsr (`fedrad pki sign`);
//   - as a CRL: ReadCrl (`fedrad pki show`), transport::ReadRevocationList;
//   - as the CA certificate (tls.ca_cert): VerifyCertificatePem of the
//     fixed site certificate against it, ReadRevocationList of the CA's CRL.
// Seeds: the fixed CA's files (tests/fuzz/make_seeds.cc).
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

#include "core/csv.h"
#include "core/pki.h"
#include "proto/transport.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

struct Fixture {
  std::string ca_dir, ca_cert, crl, site_cert, site_cert_pem, site_key, signature;
  Fixture() {
    ca_dir = fedrad::fuzz::ScratchDir() + "/ca";
    Check(fedrad::pki::InitCa(ca_dir, {}));
    ca_cert = ca_dir + "/ca.crt";
    crl = ca_dir + "/crl.pem";
    const std::string ids = fedrad::fuzz::ScratchDir() + "/ids";
    Check(fedrad::pki::IssueIdentity(ca_dir, "A", fedrad::pki::Role::kSite, ids).status());
    site_cert = ids + "/A.crt";
    site_key = ids + "/A.key";
    auto pem = fedrad::ReadFileToString(site_cert);
    Check(pem.status());
    site_cert_pem = *pem;
    auto sig = fedrad::pki::SignWithKey(site_key, "fedrad");
    Check(sig.status());
    signature = *sig;
  }
  static void Check(const absl::Status& s) {
    if (!s.ok()) {
      std::cerr << "fuzz_pem fixture: " << s << "\n";
      std::abort();
    }
  }
};

Fixture& TheFixture() {
  static Fixture* f = new Fixture;
  return *f;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  TheFixture();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Fixture& f = TheFixture();
  const std::string pem(reinterpret_cast<const char*>(data), size);
  const std::string path = fedrad::fuzz::WriteScratch("in.pem", data, size);
  ::chmod(path.c_str(), 0600);  // a key readable by others only adds a warning

  // A peer's certificate.
  (void)fedrad::pki::ParseCertificatePem(pem);
  (void)fedrad::pki::ReadCertificate(path);
  (void)fedrad::pki::VerifyCertificatePem(pem, f.ca_cert, f.crl);
  if (auto key = fedrad::pki::PublicKey::FromCertificatePem(pem); key.ok()) {
    (void)(*key)->Verify("fedrad", f.signature);
  }
  (void)fedrad::pki::VerifyWithCertificatePem(pem, "fedrad", f.signature);
  (void)fedrad::transport::DescribeCertificate(pem);
  (void)fedrad::transport::VerifyPeerCertificate(pem, f.ca_cert, f.crl);
  (void)fedrad::transport::CheckServerCertificate(pem, f.ca_cert, f.crl, "coordinator",
                                                  "coordinator");
  // A private key.
  if (auto key = fedrad::pki::PrivateKey::Load(path); key.ok()) {
    (void)(*key)->CheckMatches(f.site_cert_pem);
  }
  (void)fedrad::pki::CheckKeyMatchesCertificate(path, f.site_cert);
  // A certificate request.
  if (auto csr = fedrad::pki::ReadCsr(path); csr.ok()) {
    (void)fedrad::pki::CheckCsrExpectations(*csr, "A", "site");
    fedrad::pki::SignOptions options;
    options.expect_common_name = "A";
    (void)fedrad::pki::SignCsr(f.ca_dir, path, fedrad::fuzz::ScratchDir() + "/signed.crt",
                               options);
  }
  // A CRL.
  (void)fedrad::pki::ReadCrl(path);
  (void)fedrad::transport::ReadRevocationList(path, f.ca_cert);
  // The CA certificate.
  (void)fedrad::pki::VerifyCertificatePem(f.site_cert_pem, path, "");
  (void)fedrad::transport::ReadRevocationList(f.crl, path);
  return 0;
}
