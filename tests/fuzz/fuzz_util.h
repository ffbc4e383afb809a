// Shared by the libFuzzer targets in tests/fuzz/: a per-process scratch
// folder for readers that take a path, and the split of one input into
// parts (for entry points that read two files).
//
//   std::string path = fedrad::fuzz::WriteScratch("image.nrrd", data, size);
//   auto image = fedrad::features::ReadImage(path);
//
// Not thread safe (libFuzzer runs one input at a time per process).
#ifndef FEDRAD_TESTS_FUZZ_FUZZ_UTIL_H_
#define FEDRAD_TESTS_FUZZ_FUZZ_UTIL_H_

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/log.h"
#include "google/protobuf/stubs/logging.h"

namespace fedrad::fuzz {

// The targets log errors only: the code under test logs every refusal, and
// a line per input would slow the fuzzer down many times over.
// Protobuf's own complaints (invalid UTF-8 in a string field) likewise.
inline const bool kQuietLogs = (SetMinLogLevel(LogLevel::kError),
                                google::protobuf::SetLogHandler(nullptr), true);

// A folder of this process's own under $TMPDIR (removed at exit).
inline const std::string& ScratchDir() {
  // Never freed: the atexit handler runs after static destructors.
  static const std::string* dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::filesystem::path p = std::filesystem::path(tmp != nullptr ? tmp : "/tmp") /
                              ("fedrad-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(p);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(ScratchDir(), ec);
    });
    return new std::string(p.string());
  }();
  return *dir;
}

// Writes the bytes to ScratchDir()/name (replacing it) and returns the path.
inline std::string WriteScratch(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = (std::filesystem::path(ScratchDir()) / name).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}
inline std::string WriteScratch(const std::string& name, const std::string& bytes) {
  return WriteScratch(name, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

// Splits the input at every occurrence of `separator` (a dictionary entry
// of the targets that use it), at most `max_parts` parts (the last keeps
// the rest).
inline std::vector<std::string> Split(const uint8_t* data, size_t size,
                                      const std::string& separator, size_t max_parts) {
  std::vector<std::string> parts;
  std::string rest(reinterpret_cast<const char*>(data), size);
  while (parts.size() + 1 < max_parts) {
    size_t at = rest.find(separator);
    if (at == std::string::npos) break;
    parts.push_back(rest.substr(0, at));
    rest.erase(0, at + separator.size());
  }
  parts.push_back(std::move(rest));
  return parts;
}

}  // namespace fedrad::fuzz

#endif  // FEDRAD_TESTS_FUZZ_FUZZ_UTIL_H_
