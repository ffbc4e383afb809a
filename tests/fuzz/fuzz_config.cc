// Fuzz target: the protobuf text files users write, read as production
// reads them. The first byte chooses the file (its value mod 5), the rest is
// the text:
//   0  a study spec: ParseTextProto, coordinator::CheckStudy (submit,
//      `fedrad study submit`, sandbox), site::CheckStudySpec (`fedrad-site
//      approve`), StudySpecHash;
//   1  a site config: site::LoadSiteConfig (the daemon and every
//      `fedrad-site` command) on the text written to a file;
//   2  a coordinator config: ParseTextProto, NormalizeCoordinatorConfig;
//   3  feature settings: cli::ParseFeatureSettings (`fedrad extract`, the
//      study's features.settings);
//   4  a site's approvals file: site::ReadApprovals, then CheckApproved.
// Seeds: examples/studies, deploy/ configs, features/presets.
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "absl/time/clock.h"
#include "site_node/feature_settings.h"
#include "coordinator/analyses.h"
#include "coordinator/coordinator.h"
#include "proto/config.pb.h"
#include "proto/spec_hash.h"
#include "proto/study.pb.h"
#include "proto/textproto.h"
#include "site_node/approvals.h"
#include "site_node/site_node.h"
#include "site_node/study_policy.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0: {
      fedrad::v1::Study study;
      if (!fedrad::ParseTextProto(text, "fuzz.textproto", &study).ok()) return 0;
      (void)fedrad::coordinator::CheckStudy(study);
      (void)fedrad::site::CheckStudySpec(study, "patient_id");
      (void)fedrad::StudySpecHash(study);
      break;
    }
    case 1: {
      const std::string path = fedrad::fuzz::WriteScratch("site.textproto", text);
      (void)fedrad::site::LoadSiteConfig(path);
      break;
    }
    case 2: {
      fedrad::v1::CoordinatorConfig config;
      if (!fedrad::ParseTextProto(text, "fuzz.textproto", &config).ok()) return 0;
      (void)fedrad::coordinator::NormalizeCoordinatorConfig(config);
      break;
    }
    case 3:
      (void)fedrad::cli::ParseFeatureSettings(text, "fuzz.textproto");
      break;
    case 4: {
      const std::string state = fedrad::fuzz::ScratchDir() + "/state";
      std::filesystem::create_directories(state);
      fedrad::fuzz::WriteScratch("state/" +
                                     std::filesystem::path(fedrad::site::ApprovalsPath(state))
                                         .filename()
                                         .string(),
                                 text);
      absl::StatusOr<fedrad::v1::StudyApprovals> approvals = fedrad::site::ReadApprovals(state);
      if (approvals.ok()) {
        for (const auto& a : approvals->approvals()) {
          (void)fedrad::site::CheckApproved(*approvals, "A", a.study_name(), a.spec_sha256(),
                                            absl::Now());
        }
      }
      break;
    }
  }
  return 0;
}
