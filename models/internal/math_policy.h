// Internal to models/ (fedrad::models_internal): the Boost.Math error policy
// the models use for distributions (Student's t, normal). Not for use
// outside models/.
//
// Boost.Math throws on a domain error, a pole or an overflow by default; fedrad
// lets no exception cross a module boundary (STYLE.md), so every error is
// reported through errno and the result instead: NaN for a domain error,
// +-infinity for an overflow (e.g. the quantile at p = 1).
//
//   boost::math::students_t_distribution<double, models_internal::NoThrowPolicy> t(df);
//   double q = boost::math::quantile(t, 0.975);
#ifndef FEDRAD_MODELS_INTERNAL_MATH_POLICY_H_
#define FEDRAD_MODELS_INTERNAL_MATH_POLICY_H_

#include <boost/math/policies/policy.hpp>

namespace fedrad::models_internal {

using NoThrowPolicy = boost::math::policies::policy<
    boost::math::policies::domain_error<boost::math::policies::errno_on_error>,
    boost::math::policies::pole_error<boost::math::policies::errno_on_error>,
    boost::math::policies::overflow_error<boost::math::policies::errno_on_error>,
    boost::math::policies::evaluation_error<boost::math::policies::errno_on_error>,
    boost::math::policies::rounding_error<boost::math::policies::errno_on_error>>;

}  // namespace fedrad::models_internal

#endif  // FEDRAD_MODELS_INTERNAL_MATH_POLICY_H_
