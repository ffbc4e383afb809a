#include "site_node/secagg_journal.h"

#include <sys/stat.h>

#include <cstdio>
#include <map>
#include <mutex>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace fedrad::site {
namespace {

// What the index knows of one journal file.
struct Indexed {
  ino_t inode = 0;
  dev_t device = 0;
  off_t read_to = 0;  // bytes consumed: whole lines only
  std::map<std::string, std::string> values;  // hex key -> raw value
};

std::mutex& IndexMutex() {
  static std::mutex mu;
  return mu;
}

std::map<std::string, Indexed>& Index() {
  static auto* index = new std::map<std::string, Indexed>();
  return *index;
}

// Reads the lines of `path` from entry->read_to on (or from the start when
// the file is another or shorter than what was read).
void Refresh(const std::string& path, Indexed* entry) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    *entry = Indexed();
    return;
  }
  if (st.st_ino != entry->inode || st.st_dev != entry->device || st.st_size < entry->read_to) {
    *entry = Indexed();
    entry->inode = st.st_ino;
    entry->device = st.st_dev;
  }
  if (st.st_size == entry->read_to) return;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return;
  std::string tail;
  if (std::fseek(f, entry->read_to, SEEK_SET) == 0) {
    char buf[1 << 16];
    size_t got = 0;
    while ((got = std::fread(buf, 1, sizeof(buf), f)) > 0) tail.append(buf, got);
  }
  std::fclose(f);
  const size_t whole = tail.rfind('\n');
  if (whole == std::string::npos) return;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(tail).substr(0, whole), '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> kv = absl::StrSplit(line, absl::MaxSplits(' ', 1));
    if (kv.size() == 2) entry->values[std::string(kv[0])] = absl::HexStringToBytes(kv[1]);
  }
  entry->read_to += static_cast<off_t>(whole + 1);
}

}  // namespace

std::string JournalGet(const std::string& path, const std::string& key) {
  std::lock_guard<std::mutex> lock(IndexMutex());
  Indexed& entry = Index()[path];
  Refresh(path, &entry);
  auto it = entry.values.find(absl::BytesToHexString(key));
  return it == entry.values.end() ? "" : it->second;
}

absl::Status JournalAppend(const std::string& path,
                           const std::vector<std::pair<std::string, std::string>>& records) {
  std::string text;
  for (const auto& [key, value] : records) {
    absl::StrAppend(&text, absl::BytesToHexString(key), " ", absl::BytesToHexString(value), "\n");
  }
  std::lock_guard<std::mutex> lock(IndexMutex());
  std::FILE* f = std::fopen(path.c_str(), "a");
  bool ok = f != nullptr && std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (f != nullptr) ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    return absl::InternalError(absl::StrCat("secure aggregation: cannot append to ", path));
  }
  return absl::OkStatus();
}

}  // namespace fedrad::site
