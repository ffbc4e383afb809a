// fedrad's one logging facility (Debian's Abseil has no absl/log).
//
//   FEDRAD_LOG(INFO) << "site " << id << " connected";
//   FEDRAD_LOG(WARNING) << "retrying in " << delay_ms << " ms";
//
// A line goes to stderr as one write, prefixed with the UTC time, the level
// and the program tag set by SetLogTag(). Thread safe. Lines below the level
// set by SetMinLogLevel() (default INFO; FEDRAD_LOG_LEVEL=WARNING in the
// environment raises it) are dropped.
#ifndef FEDRAD_CORE_LOG_H_
#define FEDRAD_CORE_LOG_H_

#include <sstream>
#include <string>
#include "absl/strings/string_view.h"

namespace fedrad {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

void SetMinLogLevel(LogLevel level);
LogLevel MinLogLevel();
// A short name shown on every line, e.g. "site:S1" or "coordinator".
void SetLogTag(absl::string_view tag);

namespace log_internal {

class LogLine {
 public:
  LogLine(LogLevel level, const char* file, int line);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

}  // namespace log_internal
}  // namespace fedrad

#define FEDRAD_LOG_LEVEL_DEBUG ::fedrad::LogLevel::kDebug
#define FEDRAD_LOG_LEVEL_INFO ::fedrad::LogLevel::kInfo
#define FEDRAD_LOG_LEVEL_WARNING ::fedrad::LogLevel::kWarning
#define FEDRAD_LOG_LEVEL_ERROR ::fedrad::LogLevel::kError

#define FEDRAD_LOG(severity)                                          \
  if (FEDRAD_LOG_LEVEL_##severity < ::fedrad::MinLogLevel()) {        \
  } else                                                              \
    ::fedrad::log_internal::LogLine(FEDRAD_LOG_LEVEL_##severity,      \
                                    __FILE__, __LINE__)               \
        .stream()

#endif  // FEDRAD_CORE_LOG_H_
