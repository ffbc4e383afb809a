// Eigen views of task-kind fields (proto/task_kinds.h): the one copy of the
// vector/matrix conversions the site's tasks, the coordinator's analyses and
// the round verifier share (they used to keep their own SiteVector /
// SiteMatrix / AddEigenMatrix). Matrices travel row-major.
//
//   namespace cm = fedrad::kinds::combat_moments;
//   fedrad::kinds::Put(&out.payload, cm::kCovariateCross, m.covariate_cross);
//   FEDRAD_ASSIGN_OR_RETURN(Eigen::MatrixXd zz,
//       fedrad::kinds::SiteMatrix(site, result.payload(), cm::kCovariateCross, q, q));
//
// Thread safety: thread compatible.
#ifndef FEDRAD_ROUNDS_KIND_EIGEN_H_
#define FEDRAD_ROUNDS_KIND_EIGEN_H_

#include <string>
#include <vector>

#include <Eigen/Dense>

#include "absl/status/statusor.h"
#include "proto/task_kinds.h"

namespace fedrad::kinds {

std::vector<double> ToStd(const Eigen::VectorXd& v);
std::vector<double> RowMajor(const Eigen::MatrixXd& m);
Eigen::MatrixXd FromRowMajor(const std::vector<double>& v, int64_t rows, int64_t cols);

void Put(v1::Payload* p, const Vector& f, const Eigen::VectorXd& v);
void Put(v1::Payload* p, const Matrix& f, const Eigen::MatrixXd& m);

// The field with exactly `size` values (rows x cols); NotFound when absent,
// DataLoss when the size differs, both naming the field.
absl::StatusOr<Eigen::VectorXd> GetEigen(const v1::Payload& p, const Vector& f, size_t size);
absl::StatusOr<Eigen::MatrixXd> GetEigen(const v1::Payload& p, const Matrix& f, int64_t rows,
                                         int64_t cols);

// As GetEigen, for a site's result: errors start with "site <site>: ".
absl::StatusOr<Eigen::VectorXd> SiteVector(const std::string& site, const v1::Payload& p,
                                           const Vector& f, size_t size);
absl::StatusOr<Eigen::MatrixXd> SiteMatrix(const std::string& site, const v1::Payload& p,
                                           const Matrix& f, int64_t rows, int64_t cols);

}  // namespace fedrad::kinds

#endif  // FEDRAD_ROUNDS_KIND_EIGEN_H_
