#include "rounds/kind_eigen.h"

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace fedrad::kinds {

std::vector<double> ToStd(const Eigen::VectorXd& v) {
  return std::vector<double>(v.data(), v.data() + v.size());
}

std::vector<double> RowMajor(const Eigen::MatrixXd& m) {
  std::vector<double> out(static_cast<size_t>(m.size()));
  for (Eigen::Index r = 0; r < m.rows(); ++r) {
    for (Eigen::Index c = 0; c < m.cols(); ++c) out[r * m.cols() + c] = m(r, c);
  }
  return out;
}

Eigen::MatrixXd FromRowMajor(const std::vector<double>& v, int64_t rows, int64_t cols) {
  Eigen::MatrixXd m(rows, cols);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) m(i, j) = v[i * cols + j];
  }
  return m;
}

void Put(v1::Payload* p, const Vector& f, const Eigen::VectorXd& v) { Put(p, f, ToStd(v)); }

void Put(v1::Payload* p, const Matrix& f, const Eigen::MatrixXd& m) {
  Put(p, f, m.rows(), m.cols(), RowMajor(m));
}

absl::StatusOr<Eigen::VectorXd> GetEigen(const v1::Payload& p, const Vector& f, size_t size) {
  FEDRAD_ASSIGN_OR_RETURN(std::vector<double> v, Get(p, f, size));
  return Eigen::Map<Eigen::VectorXd>(v.data(), static_cast<Eigen::Index>(v.size()));
}

absl::StatusOr<Eigen::MatrixXd> GetEigen(const v1::Payload& p, const Matrix& f, int64_t rows,
                                         int64_t cols) {
  FEDRAD_ASSIGN_OR_RETURN(MatrixValues m, Get(p, f, rows, cols));
  return FromRowMajor(m.row_major, rows, cols);
}

absl::StatusOr<Eigen::VectorXd> SiteVector(const std::string& site, const v1::Payload& p,
                                           const Vector& f, size_t size) {
  absl::StatusOr<Eigen::VectorXd> v = GetEigen(p, f, size);
  if (!v.ok()) return Annotate(v.status(), absl::StrCat("site ", site));
  return v;
}

absl::StatusOr<Eigen::MatrixXd> SiteMatrix(const std::string& site, const v1::Payload& p,
                                           const Matrix& f, int64_t rows, int64_t cols) {
  absl::StatusOr<Eigen::MatrixXd> m = GetEigen(p, f, rows, cols);
  if (!m.ok()) return Annotate(m.status(), absl::StrCat("site ", site));
  return m;
}

}  // namespace fedrad::kinds
