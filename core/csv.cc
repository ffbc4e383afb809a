#include "core/csv.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <unordered_map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace fedrad {

CsvTable::CsvTable(std::vector<std::string> header, std::string source)
    : source_(std::move(source)), header_(std::move(header)) {}

int CsvTable::ColumnIndex(absl::string_view column) const {
  for (size_t i = 0; i < header_.size(); ++i) {
    if (header_[i] == column) return static_cast<int>(i);
  }
  return -1;
}

absl::Status CsvTable::RequireColumns(const std::vector<std::string>& columns) const {
  std::vector<std::string> missing;
  for (const auto& c : columns) {
    if (!HasColumn(c)) missing.push_back(c);
  }
  if (missing.empty()) return absl::OkStatus();
  std::string names = absl::StrCat("'", absl::StrJoin(missing, "', '"), "'");
  return absl::InvalidArgumentError(absl::StrCat(
      source_, ": missing column", missing.size() > 1 ? "s " : " ", names,
      " (the header has: ", absl::StrJoin(header_, ","), ")"));
}

absl::StatusOr<std::vector<std::string>> CsvTable::StringColumn(absl::string_view column) const {
  int idx = ColumnIndex(column);
  if (idx < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": missing column '", column, "'"));
  }
  std::vector<std::string> out;
  out.reserve(rows_.size());
  for (const auto& r : rows_) out.push_back(r[idx]);
  return out;
}

bool IsMissingCell(absl::string_view cell) {
  absl::string_view c = absl::StripAsciiWhitespace(cell);
  return c.empty() || c == "NA" || c == "NaN" || c == "nan" || c == "na";
}

bool ParseNumber(absl::string_view cell, double* out) {
  std::string s(absl::StripAsciiWhitespace(cell));
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return false;
  if (errno == ERANGE && std::isinf(v)) return false;
  *out = v;
  return true;
}

std::string FormatNumber(double value) {
  if (std::isnan(value)) return "NA";
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", value);
  // Prefer the shortest representation that round-trips.
  for (int prec = 6; prec < 17; ++prec) {
    char shorter[40];
    std::snprintf(shorter, sizeof(shorter), "%.*g", prec, value);
    if (std::strtod(shorter, nullptr) == value) return shorter;
  }
  return buf;
}

absl::StatusOr<std::vector<double>> CsvTable::NumericColumn(absl::string_view column,
                                                            MissingValues missing) const {
  int idx = ColumnIndex(column);
  if (idx < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": missing column '", column, "'"));
  }
  std::vector<double> out;
  out.reserve(rows_.size());
  for (size_t i = 0; i < rows_.size(); ++i) {
    const std::string& cell = rows_[i][idx];
    if (IsMissingCell(cell)) {
      if (missing == MissingValues::kReject) {
        return absl::InvalidArgumentError(absl::StrCat(
            source_, ": line ", line_of_row(i), ", column '", column,
            "': missing value"));
      }
      out.push_back(std::numeric_limits<double>::quiet_NaN());
      continue;
    }
    double v;
    if (!ParseNumber(cell, &v) || !std::isfinite(v)) {
      return absl::InvalidArgumentError(absl::StrCat(
          source_, ": line ", line_of_row(i), ", column '", column,
          "': '", cell, "' is not a number"));
    }
    out.push_back(v);
  }
  return out;
}

absl::Status CsvTable::RequireUnique(absl::string_view column) const {
  int idx = ColumnIndex(column);
  if (idx < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": missing column '", column, "'"));
  }
  std::unordered_map<std::string, size_t> seen;
  for (size_t i = 0; i < rows_.size(); ++i) {
    auto [it, inserted] = seen.emplace(rows_[i][idx], i);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat(
          source_, ": column '", column, "': duplicate value '", rows_[i][idx],
          "' on lines ", line_of_row(it->second), " and ", line_of_row(i)));
    }
  }
  return absl::OkStatus();
}

absl::Status CsvTable::AddRow(std::vector<std::string> row) {
  if (row.size() != header_.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source_, ": row has ", row.size(), " fields, the header has ", header_.size()));
  }
  rows_.push_back(std::move(row));
  lines_.push_back(static_cast<int>(rows_.size()) + 1);
  return absl::OkStatus();
}

void CsvTable::AddColumn(std::string name, std::vector<std::string> values) {
  header_.push_back(std::move(name));
  for (size_t i = 0; i < rows_.size(); ++i) {
    rows_[i].push_back(i < values.size() ? values[i] : std::string());
  }
}

absl::StatusOr<CsvTable> ParseCsv(absl::string_view text, std::string source) {
  CsvTable table;
  table.source_ = source;
  std::vector<std::string> fields;
  std::string field;
  bool in_quotes = false;
  bool field_quoted = false;
  int line = 1;
  int record_line = 1;
  bool have_header = false;

  auto finish_record = [&]() -> absl::Status {
    bool blank = fields.size() == 1 && fields[0].empty() && !field_quoted;
    if (blank) {
      fields.clear();
      return absl::OkStatus();
    }
    if (!have_header) {
      for (auto& h : fields) h = std::string(absl::StripAsciiWhitespace(h));
      table.header_ = std::move(fields);
      have_header = true;
    } else {
      if (fields.size() != table.header_.size()) {
        return absl::InvalidArgumentError(absl::StrCat(
            source, ": line ", record_line, " has ", fields.size(),
            " fields, the header has ", table.header_.size()));
      }
      table.rows_.push_back(std::move(fields));
      table.lines_.push_back(record_line);
    }
    fields.clear();
    return absl::OkStatus();
  };

  size_t i = 0;
  if (text.size() >= 3 && static_cast<unsigned char>(text[0]) == 0xEF &&
      static_cast<unsigned char>(text[1]) == 0xBB && static_cast<unsigned char>(text[2]) == 0xBF) {
    i = 3;  // UTF-8 byte order mark
  }
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field.push_back('"');
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        field.push_back(c);
      }
      continue;
    }
    if (c == '"') {
      in_quotes = true;
      field_quoted = true;
    } else if (c == ',') {
      fields.push_back(std::move(field));
      field.clear();
    } else if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      fields.push_back(std::move(field));
      field.clear();
      absl::Status s = finish_record();
      if (!s.ok()) return s;
      field_quoted = false;
      ++line;
      record_line = line;
    } else {
      field.push_back(c);
    }
  }
  if (in_quotes) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": line ", record_line, ": unterminated quoted field"));
  }
  if (!field.empty() || !fields.empty() || field_quoted) {
    fields.push_back(std::move(field));
    absl::Status s = finish_record();
    if (!s.ok()) return s;
  }
  if (!have_header) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": empty file (no header line)"));
  }
  return table;
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open for reading"));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read error"));
  return ss.str();
}

absl::Status WriteStringToFile(const std::string& path, absl::string_view data) {
  std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return absl::PermissionDeniedError(absl::StrCat(path, ": cannot open for writing"));
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.flush();
    if (!out) return absl::DataLossError(absl::StrCat(path, ": write error"));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return absl::PermissionDeniedError(absl::StrCat(path, ": cannot rename into place"));
  }
  return absl::OkStatus();
}

absl::StatusOr<CsvTable> ReadCsv(const std::string& path) {
  auto text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  return ParseCsv(*text, path);
}

namespace {
constexpr absl::string_view kByteOrderMark = "\xEF\xBB\xBF";

std::string QuoteField(const std::string& f, bool opens_file) {
  // The file's first field is quoted when it begins with a byte order
  // mark, which ParseCsv would otherwise strip (found by tests/fuzz/fuzz_csv).
  const bool bom = opens_file && absl::StartsWith(f, kByteOrderMark);
  if (!bom && f.find_first_of(",\"\r\n") == std::string::npos) return f;
  std::string out = "\"";
  for (char c : f) {
    if (c == '"') out += "\"\"";
    else out.push_back(c);
  }
  out.push_back('"');
  return out;
}
}  // namespace

std::string FormatCsv(const CsvTable& table) {
  std::string out;
  auto append_row = [&](const std::vector<std::string>& row) {
    const bool opens_file = out.empty();
    // A row of one empty field would be a blank line, which ParseCsv skips
    // (found by tests/fuzz/fuzz_csv): quote it.
    if (row.size() == 1 && row[0].empty()) {
      out += "\"\"\n";
      return;
    }
    for (size_t i = 0; i < row.size(); ++i) {
      if (i) out.push_back(',');
      out += QuoteField(row[i], opens_file && i == 0);
    }
    out.push_back('\n');
  };
  append_row(table.header());
  for (const auto& r : table.rows()) append_row(r);
  return out;
}

absl::Status WriteCsv(const std::string& path, const CsvTable& table) {
  return WriteStringToFile(path, FormatCsv(table));
}

}  // namespace fedrad
