// CSV tables: reading, writing and typed column access with errors that name
// the file, the row and the column.
//
//   FEDRAD_ASSIGN_OR_RETURN(CsvTable t, ReadCsv("site1.csv"));
//   FEDRAD_ASSIGN_OR_RETURN(std::vector<double> age,
//                           t.NumericColumn("age", MissingValues::kReject));
//
// Format: RFC 4180 (comma separated, optional double quotes, "" escapes a
// quote, LF or CRLF line ends), first line is the header. Blank lines are
// skipped. Every row must have as many fields as the header.
// Row numbers in messages are 1-based file line numbers (the header is 1).
#ifndef FEDRAD_CORE_CSV_H_
#define FEDRAD_CORE_CSV_H_

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"

namespace fedrad {

enum class MissingValues {
  kReject,  // an empty, NA or NaN cell is an InvalidArgument error
  kAllow,   // an empty, NA or NaN cell becomes quiet NaN
};

class CsvTable {
 public:
  CsvTable() = default;
  CsvTable(std::vector<std::string> header, std::string source = "<memory>");

  // Where the table came from (a path), used in error messages.
  const std::string& source() const { return source_; }
  const std::vector<std::string>& header() const { return header_; }
  const std::vector<std::vector<std::string>>& rows() const { return rows_; }
  size_t num_rows() const { return rows_.size(); }
  size_t num_columns() const { return header_.size(); }
  // The file line of data row `i` (0-based), for messages.
  int line_of_row(size_t i) const { return i < lines_.size() ? lines_[i] : static_cast<int>(i) + 2; }

  // Index of `column` in the header, or -1.
  int ColumnIndex(absl::string_view column) const;
  bool HasColumn(absl::string_view column) const { return ColumnIndex(column) >= 0; }

  // InvalidArgument naming the file and every missing column when any of
  // `columns` is absent.
  absl::Status RequireColumns(const std::vector<std::string>& columns) const;

  // The column's cells, as written.
  absl::StatusOr<std::vector<std::string>> StringColumn(absl::string_view column) const;

  // The column parsed as doubles. A cell that is not a number is an
  // InvalidArgument naming file, line and column; missing cells per `missing`.
  absl::StatusOr<std::vector<double>> NumericColumn(absl::string_view column,
                                                    MissingValues missing) const;

  // InvalidArgument naming the first duplicated value and both lines.
  absl::Status RequireUnique(absl::string_view column) const;

  // Appends a row; it must have num_columns() fields.
  absl::Status AddRow(std::vector<std::string> row);
  void AddColumn(std::string name, std::vector<std::string> values);

  // The cell of row `row` (0-based) in column index `col`.
  const std::string& cell(size_t row, size_t col) const { return rows_[row][col]; }
  std::string& mutable_cell(size_t row, size_t col) { return rows_[row][col]; }

 private:
  friend absl::StatusOr<CsvTable> ParseCsv(absl::string_view text, std::string source);
  std::string source_ = "<memory>";
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<int> lines_;
};

// Parses CSV text. `source` names it in errors.
absl::StatusOr<CsvTable> ParseCsv(absl::string_view text, std::string source);

// Reads and parses a CSV file. NotFound if it cannot be opened;
// InvalidArgument if it is empty, has no header, or a ragged row.
absl::StatusOr<CsvTable> ReadCsv(const std::string& path);

// Serialises the table (quoting fields that need it).
std::string FormatCsv(const CsvTable& table);

// Writes the table to `path` atomically (temporary file, then rename).
absl::Status WriteCsv(const std::string& path, const CsvTable& table);

// True for "", "NA", "NaN", "nan" (after trimming spaces).
bool IsMissingCell(absl::string_view cell);

// Parses a full-cell number; false if the cell has anything else.
bool ParseNumber(absl::string_view cell, double* out);

// Formats a double with enough digits to round-trip (%.17g), "NA" for NaN.
std::string FormatNumber(double value);

// Reads a whole file; NotFound / DataLoss on failure.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);
// Writes a whole file atomically (temporary file in the same folder, rename).
absl::Status WriteStringToFile(const std::string& path, absl::string_view data);

}  // namespace fedrad

#endif  // FEDRAD_CORE_CSV_H_
