// `fedrad pki init|request|sign|revoke|crl|show|verify|issue`: the study's
// certificate authority and node identities (core/pki.h). Exit codes: 0 done,
// 1 failed (the message names the file and the reason), 2 usage error.
//
//   fedrad pki init --ca-dir ca --cn "CRLM study CA"               # coordinator, once
//   fedrad pki request --cn S1 --role site --key-out S1.key --csr-out S1.csr   # at site S1
//   fedrad pki sign --ca-dir ca --csr S1.csr --out S1.crt --expect-cn S1
//       --expect-role site --dns s1.example.org
//   fedrad pki show S1.csr        # also certificates and CRLs
//   fedrad pki revoke --ca-dir ca --cert S1.crt --reason keyCompromise
#include <unistd.h>

#include <iostream>
#include <string>

#include "absl/strings/str_join.h"
#include "cli/command.h"
#include "core/csv.h"
#include "core/pki.h"

namespace {

using fedrad::cli::Args;
namespace pki = fedrad::pki;

int Fail(const std::string& command, const absl::Status& status) {
  std::cerr << "fedrad " << command << ": " << status.message() << "\n";
  return 1;
}

void PrintInfo(const pki::CertificateInfo& info) {
  std::cout << "subject:      " << info.subject << "\n"
            << "common name:  " << info.common_name << "\n"
            << "role:         " << (info.is_ca ? "CA" : pki::RoleName(info.role)) << "\n"
            << "issuer:       " << info.issuer << "\n"
            << "serial:       " << info.serial_hex << "\n"
            << "valid from:   " << pki::FormatUnixTime(info.not_before_unix) << "\n"
            << "valid until:  " << pki::FormatUnixTime(info.not_after_unix) << "\n"
            << "sha256:       " << info.sha256_fingerprint << "\n";
  if (!info.dns_names.empty()) {
    std::cout << "DNS names:    " << absl::StrJoin(info.dns_names, ", ") << "\n";
  }
  if (!info.ip_addresses.empty()) {
    std::cout << "IP addresses: " << absl::StrJoin(info.ip_addresses, ", ") << "\n";
  }
}

void PrintCsr(const pki::CsrInfo& csr) {
  auto mark = [](bool ok) { return ok ? "" : "  <- pki sign refuses this"; };
  std::cout << "certificate request\n"
            << "subject:      " << csr.subject << "\n"
            << "common name:  " << (csr.common_name.empty() ? "(none)" : csr.common_name)
            << "\n"
            << "role:         " << (csr.role_text.empty() ? "(none)" : csr.role_text)
            << mark(csr.role_valid) << "\n"
            << "key:          " << csr.key_type << mark(csr.key_ok) << "\n"
            << "signature:    " << (csr.signature_ok ? "valid" : "INVALID")
            << mark(csr.signature_ok) << "\n"
            << "key sha256:   " << csr.public_key_sha256 << "\n";
  if (!csr.requested_dns_names.empty() || !csr.requested_ip_addresses.empty()) {
    std::vector<std::string> names = csr.requested_dns_names;
    names.insert(names.end(), csr.requested_ip_addresses.begin(),
                 csr.requested_ip_addresses.end());
    std::cout << "requested SANs: " << absl::StrJoin(names, ", ")
              << " (ignored: the certificate names the CN, localhost, loopback and --dns/--ip)\n";
  }
}

int RunInit(Args& args) {
  args.Describe(
      "Creates the study CA in a new folder: ca.key (mode 0600, keep it offline or "
      "at the coordinator only), ca.crt (give it to every node), crl.pem (the "
      "revocation list) and serials.txt (issued certificates). Refuses to overwrite "
      "an existing CA.");
  std::string ca_dir = args.Flag("ca-dir", "", "CA folder to create (required)");
  pki::CaOptions options;
  options.common_name = args.Flag("cn", options.common_name, "CA common name");
  options.validity_days =
      static_cast<int>(args.Int("days", options.validity_days, "CA validity in days"));
  options.crl_validity_days = static_cast<int>(
      args.Int("crl-days", options.crl_validity_days, "How long each signed CRL is valid"));
  if (!args.Finish()) return args.exit_code();
  if (ca_dir.empty()) return args.UsageError("--ca-dir is required");
  if (absl::Status s = pki::InitCa(ca_dir, options); !s.ok()) return Fail("pki init", s);
  auto info = pki::ReadCertificate(ca_dir + "/ca.crt");
  if (!info.ok()) return Fail("pki init", info.status());
  std::cout << "created study CA in " << ca_dir << "\n";
  PrintInfo(*info);
  return 0;
}

int RunRequest(Args& args) {
  args.Describe(
      "At a node: makes its EC P-256 private key (mode 0600; it never leaves this "
      "machine) and a certificate signing request to send to the study CA.");
  std::string cn = args.Flag("cn", "", "Node name, e.g. the site id S1 (required)");
  std::string role = args.Flag("role", "", "site, coordinator, admin or auditor (required)");
  std::string key_out = args.Flag("key-out", "", "Private key file to create (required)");
  std::string csr_out = args.Flag("csr-out", "", "CSR file to write (required)");
  if (!args.Finish()) return args.exit_code();
  if (cn.empty() || role.empty() || key_out.empty() || csr_out.empty()) {
    return args.UsageError("--cn, --role, --key-out and --csr-out are required");
  }
  auto parsed = pki::ParseRole(role);
  if (!parsed.ok()) return args.UsageError(std::string(parsed.status().message()));
  if (absl::Status s = pki::CreateKeyAndCsr(cn, *parsed, key_out, csr_out); !s.ok()) {
    return Fail("pki request", s);
  }
  std::cout << "private key: " << key_out << " (mode 0600; keep it here)\n"
            << "request:     " << csr_out << " (send this to the study CA)\n";
  return 0;
}

// The flags `pki sign` and `pki issue` share: --days, --dns, --ip.
pki::SignOptions ReadSignOptions(Args& args) {
  pki::SignOptions options;
  options.validity_days =
      static_cast<int>(args.Int("days", options.validity_days, "Validity in days"));
  options.dns_names = args.Flags("dns", "Extra DNS subjectAltName");
  options.ip_addresses = args.Flags("ip", "Extra IP subjectAltName");
  return options;
}

int RunSign(Args& args) {
  args.Describe(
      "At the CA: shows a node's CSR (CN, role, key type, SANs) and signs it only when it "
      "asks for what you expect: --expect-cn and --expect-role must match the request, "
      "or, without them and on a terminal, you confirm what it shows. The role comes from "
      "the request; the certificate is valid for TLS client and server authentication and "
      "names the CN, localhost, 127.0.0.1 and ::1 plus any --dns/--ip given.");
  std::string ca_dir = args.Flag("ca-dir", "", "CA folder (required)");
  std::string csr = args.Flag("csr", "", "CSR file (required)");
  std::string out = args.Flag("out", "", "Certificate file to write (required)");
  pki::SignOptions options = ReadSignOptions(args);
  options.expect_common_name =
      args.Flag("expect-cn", "", "The node name the request must ask for, e.g. S1");
  options.expect_role = args.Flag("expect-role", "",
                                  "The role the request must ask for: site, coordinator, "
                                  "admin or auditor");
  if (!args.Finish()) return args.exit_code();
  if (ca_dir.empty() || csr.empty() || out.empty()) {
    return args.UsageError("--ca-dir, --csr and --out are required");
  }
  if (options.expect_common_name.empty() != options.expect_role.empty()) {
    return args.UsageError("give both --expect-cn and --expect-role");
  }
  if (!options.expect_role.empty()) {
    if (auto role = pki::ParseRole(options.expect_role); !role.ok()) {
      return args.UsageError("--expect-role: " + std::string(role.status().message()));
    }
  }
  auto request = pki::ReadCsr(csr);
  if (!request.ok()) return Fail("pki sign", request.status());
  PrintCsr(*request);
  if (options.expect_common_name.empty()) {
    if (!::isatty(STDIN_FILENO)) {
      std::cerr << "fedrad pki sign: not signed: say what " << csr
                << " must ask for with --expect-cn NAME --expect-role ROLE (or run this on a "
                   "terminal to confirm it by hand); check the request first with `fedrad pki "
                   "show "
                << csr << "`\n";
      return 1;
    }
    std::cout << "Sign a " << request->role_text << " certificate for \""
              << request->common_name << "\"? Type yes to sign: " << std::flush;
    std::string answer;
    if (!std::getline(std::cin, answer) || answer != "yes") {
      std::cerr << "fedrad pki sign: not signed\n";
      return 1;
    }
    // The request was confirmed as shown: sign only that.
    options.expect_common_name = request->common_name;
    options.expect_role = request->role_text;
  }
  auto info = pki::SignCsr(ca_dir, csr, out, options);
  if (!info.ok()) return Fail("pki sign", info.status());
  std::cout << "signed " << out << "\n";
  PrintInfo(*info);
  return 0;
}

int RunRevoke(Args& args) {
  args.Describe(
      "At the CA: revokes a certificate (adds its serial to crl.pem and re-signs "
      "it). Copy the new crl.pem to every node that checks peers.");
  std::string ca_dir = args.Flag("ca-dir", "", "CA folder (required)");
  std::string cert = args.Flag("cert", "", "Certificate to revoke (required)");
  std::string reason = args.Flag("reason", "",
                                 "unspecified, keyCompromise, affiliationChanged, superseded, "
                                 "cessationOfOperation or certificateHold");
  if (!args.Finish()) return args.exit_code();
  if (ca_dir.empty() || cert.empty()) return args.UsageError("--ca-dir and --cert are required");
  if (absl::Status s = pki::Revoke(ca_dir, cert, reason); !s.ok()) return Fail("pki revoke", s);
  auto info = pki::ReadCertificate(cert);
  std::cout << "revoked " << cert;
  if (info.ok())
    std::cout << " (CN " << info->common_name << ", serial " << info->serial_hex << ")";
  std::cout << "; CRL " << ca_dir << "/crl.pem updated\n";
  return 0;
}

int RunCrl(Args& args) {
  args.Describe("At the CA: re-signs crl.pem with the same entries and a fresh nextUpdate.");
  std::string ca_dir = args.Flag("ca-dir", "", "CA folder (required)");
  int days = static_cast<int>(args.Int("days", 90, "CRL validity in days"));
  if (!args.Finish()) return args.exit_code();
  if (ca_dir.empty()) return args.UsageError("--ca-dir is required");
  if (absl::Status s = pki::RefreshCrl(ca_dir, days); !s.ok()) return Fail("pki crl", s);
  auto crl = pki::ReadCrl(ca_dir + "/crl.pem");
  if (!crl.ok()) return Fail("pki crl", crl.status());
  std::cout << "re-signed " << ca_dir << "/crl.pem (number " << crl->crl_number << ", "
            << crl->revoked.size() << " revoked, next update "
            << pki::FormatUnixTime(crl->next_update_unix) << ")\n";
  return 0;
}

int RunShow(Args& args) {
  args.Describe(
      "Shows a certificate (CN, role, serial, validity, SHA-256 fingerprint, "
      "subjectAltNames), a certificate request (CN, role, key type, requested SANs) or a "
      "CRL (its revoked serials).");
  std::string path = args.Positional("FILE", "Certificate, certificate request or CRL (PEM)");
  if (!args.Finish()) return args.exit_code();
  auto text = fedrad::ReadFileToString(path);
  if (!text.ok()) return Fail("pki show", text.status());
  if (text->find("BEGIN X509 CRL") != std::string::npos) {
    auto crl = pki::ReadCrl(path);
    if (!crl.ok()) return Fail("pki show", crl.status());
    std::cout << "CRL issuer:   " << crl->issuer << "\n"
              << "CRL number:   " << crl->crl_number << "\n"
              << "last update:  " << pki::FormatUnixTime(crl->last_update_unix) << "\n"
              << "next update:  " << pki::FormatUnixTime(crl->next_update_unix) << "\n"
              << "revoked:      " << crl->revoked.size() << "\n";
    for (const auto& r : crl->revoked) {
      std::cout << "  serial " << r.serial_hex << " on " << pki::FormatUnixTime(r.revoked_unix)
                << (r.reason.empty() ? "" : " (" + r.reason + ")") << "\n";
    }
    return 0;
  }
  if (text->find("BEGIN CERTIFICATE REQUEST") != std::string::npos ||
      text->find("BEGIN NEW CERTIFICATE REQUEST") != std::string::npos) {
    auto csr = pki::ReadCsr(path);
    if (!csr.ok()) return Fail("pki show", csr.status());
    PrintCsr(*csr);
    return 0;
  }
  auto info = pki::ReadCertificate(path);
  if (!info.ok()) return Fail("pki show", info.status());
  PrintInfo(*info);
  return 0;
}

int RunVerify(Args& args) {
  args.Describe(
      "Checks a node certificate as a peer would: issued by the study CA, within "
      "its validity, not revoked (with --crl), and optionally that a key matches it.");
  std::string ca = args.Flag("ca", "", "Study CA certificate (required)");
  std::string crl = args.Flag("crl", "", "CRL to check revocation against");
  std::string key = args.Flag("key", "", "Private key that must match the certificate");
  std::string cert = args.Positional("CERT", "Certificate to check (PEM)");
  if (!args.Finish()) return args.exit_code();
  if (ca.empty()) return args.UsageError("--ca is required");
  auto pem = fedrad::ReadFileToString(cert);
  if (!pem.ok()) return Fail("pki verify", pem.status());
  if (absl::Status s = pki::VerifyCertificatePem(*pem, ca, crl); !s.ok()) {
    return Fail("pki verify", absl::Status(s.code(), cert + ": " + std::string(s.message())));
  }
  if (!key.empty()) {
    if (absl::Status s = pki::CheckKeyMatchesCertificate(key, cert); !s.ok()) {
      return Fail("pki verify", s);
    }
  }
  std::cout << cert << ": OK (issued by " << ca << (crl.empty() ? "" : ", not revoked")
            << (key.empty() ? "" : ", key matches") << ")\n";
  return 0;
}

int RunIssue(Args& args) {
  args.Describe(
      "Sandbox and tests only: makes a key, a CSR and a signed certificate in one "
      "go (OUT_DIR/CN.key, .csr, .crt). In a real study each site runs `pki "
      "request` itself so that its key never leaves it.");
  std::string ca_dir = args.Flag("ca-dir", "", "CA folder (required)");
  std::string cn = args.Flag("cn", "", "Node name (required)");
  std::string role = args.Flag("role", "", "site, coordinator, admin or auditor (required)");
  std::string out_dir = args.Flag("out-dir", "", "Folder for the files (required)");
  pki::SignOptions options = ReadSignOptions(args);
  if (!args.Finish()) return args.exit_code();
  if (ca_dir.empty() || cn.empty() || role.empty() || out_dir.empty()) {
    return args.UsageError("--ca-dir, --cn, --role and --out-dir are required");
  }
  auto parsed = pki::ParseRole(role);
  if (!parsed.ok()) return args.UsageError(std::string(parsed.status().message()));
  auto info = pki::IssueIdentity(ca_dir, cn, *parsed, out_dir, options);
  if (!info.ok()) return Fail("pki issue", info.status());
  PrintInfo(*info);
  return 0;
}

FEDRAD_REGISTER_COMMAND("pki init", "Create the study CA", RunInit);
FEDRAD_REGISTER_COMMAND("pki request", "Make a node key and certificate request", RunRequest);
FEDRAD_REGISTER_COMMAND("pki sign", "Sign a node's certificate request", RunSign);
FEDRAD_REGISTER_COMMAND("pki revoke", "Revoke a certificate (updates the CRL)", RunRevoke);
FEDRAD_REGISTER_COMMAND("pki crl", "Re-sign the CRL with a fresh nextUpdate", RunCrl);
FEDRAD_REGISTER_COMMAND("pki show", "Show a certificate, certificate request or CRL", RunShow);
FEDRAD_REGISTER_COMMAND("pki verify", "Check a certificate against the CA and CRL", RunVerify);
FEDRAD_REGISTER_COMMAND("pki issue", "Key + certificate in one go (sandbox/tests)", RunIssue);

}  // namespace
