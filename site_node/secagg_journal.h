// The site's secure-aggregation journal (docs/secure-aggregation.md): what
// it masked and revealed for each round, in an append-only file beside the
// study's state (OUTPUT_DIR/STUDY/.state/secagg.journal). study.restore and
// the rollback of a failed task do not touch it, so a coordinator that
// resumes a study from an earlier checkpoint can neither have a round id
// masked again with other values nor get a reveal that contradicts an
// earlier one.
//
//   FEDRAD_RETURN_IF_ERROR(JournalAppend(path, {{key, value}}));
//   std::string v = JournalGet(path, key);  // "" when absent
//
// Lines are `hex(key) SP hex(value)`; the last line of a key wins. Appends
// are written (not fsynced: the durability of the study's state) before
// the answer leaves. Reads go through a process-wide index that reads only
// what was appended since the last read (a long fit has thousands of
// records; reading the whole file per lookup made a round's cost grow with
// the study's length); a file replaced or shortened behind the index is
// read again from the start. Thread safe.
#ifndef FEDRAD_SITE_NODE_SECAGG_JOURNAL_H_
#define FEDRAD_SITE_NODE_SECAGG_JOURNAL_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace fedrad::site {

// The value last recorded for `key` in the journal at `path`; "" when the
// key or the file is absent (or unreadable).
std::string JournalGet(const std::string& path, const std::string& key);

// Appends the (key, value) records in one write. InternalError naming the
// file when it cannot be written.
absl::Status JournalAppend(const std::string& path,
                           const std::vector<std::pair<std::string, std::string>>& records);

}  // namespace fedrad::site

#endif  // FEDRAD_SITE_NODE_SECAGG_JOURNAL_H_
