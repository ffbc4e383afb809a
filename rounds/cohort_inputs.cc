#include "rounds/cohort_inputs.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/status.h"
#include "proto/payload.h"
#include "proto/task_kinds.h"

namespace fedrad::rounds {

absl::StatusOr<CohortSite> ParseCohortMoments(const std::string& site, const v1::Payload& p) {
  namespace km = ::fedrad::kinds::cohort_moments;
  CohortSite out;
  out.columns = kinds::Get(p, km::kColumns);
  FEDRAD_ASSIGN_OR_RETURN(auto rows, kinds::Get(p, km::kRows));
  FEDRAD_ASSIGN_OR_RETURN(auto n, kinds::Get(p, km::kN));
  FEDRAD_ASSIGN_OR_RETURN(auto n_missing, kinds::Get(p, km::kNMissing));
  FEDRAD_ASSIGN_OR_RETURN(auto mean, kinds::Get(p, km::kMean));
  FEDRAD_ASSIGN_OR_RETURN(auto m2, kinds::Get(p, km::kM2));
  FEDRAD_ASSIGN_OR_RETURN(auto binary, kinds::Get(p, km::kBinary));
  FEDRAD_ASSIGN_OR_RETURN(auto count_one, kinds::Get(p, km::kCountOne));
  // Optional (older sites do not send it): whole-number columns.
  std::vector<double> integer =
      kinds::Get(p, km::kInteger).value_or(std::vector<double>(count_one.size(), 0.0));
  FEDRAD_ASSIGN_OR_RETURN(auto suppressed, kinds::Get(p, km::kSuppressed));
  size_t m = out.columns.size();
  if (n.size() != m || n_missing.size() != m || mean.size() != m ||
      m2.size() != m || binary.size() != m || count_one.size() != m || suppressed.size() != m) {
    return absl::DataLossError(absl::StrCat("site ", site, ": malformed cohort.moments result"));
  }
  out.rows = CountFromDouble(rows);
  FEDRAD_ASSIGN_OR_RETURN(double k, kinds::Get(p, km::kMinCellCount));
  out.min_cell_count = CountFromDouble(k, out.min_cell_count);
  for (size_t i = 0; i < m; ++i) {
    models::ColumnMoments cm;
    if (std::isfinite(n[i]) && std::isfinite(n_missing[i])) {
      cm.n = CountFromDouble(n[i]);
      cm.n_missing = CountFromDouble(n_missing[i]);
    } else {
      out.size_withheld.insert(out.columns[i]);
      suppressed[i] = 1.0;
    }
    cm.binary = binary[i] != 0.0;
    cm.integer = i < integer.size() && integer[i] == 1.0;
    if (suppressed[i] != 0.0) {
      out.suppressed.insert(out.columns[i]);
    } else {
      cm.mean = mean[i];
      cm.m2 = m2[i];
      cm.count_one = std::isfinite(count_one[i]) ? CountFromDouble(count_one[i]) : 0;
    }
    out.moments[out.columns[i]] = cm;
  }
  FEDRAD_ASSIGN_OR_RETURN(auto te_n, kinds::Get(p, km::kTimeEventN));
  FEDRAD_ASSIGN_OR_RETURN(auto te_events, kinds::Get(p, km::kTimeEventEvents));
  FEDRAD_ASSIGN_OR_RETURN(auto te_suppressed, kinds::Get(p, km::kTimeEventSuppressed));
  for (size_t i = 0; i < te_n.size() && i < te_events.size() && i < te_suppressed.size(); ++i) {
    // -1: withheld (fewer than k pairs).
    out.te_n.push_back(std::isfinite(te_n[i]) ? CountFromDouble(te_n[i]) : -1);
    out.te_suppressed.push_back(te_suppressed[i] != 0.0 || !std::isfinite(te_n[i]));
    out.te_events.push_back(te_suppressed[i] != 0.0 ? 0 : CountFromDouble(te_events[i]));
  }
  return out;
}

absl::StatusOr<CohortGrids> ParseCohortCounts(const std::string& site, const v1::Payload& p,
                                             const std::vector<std::string>& columns) {
  CohortGrids out;
  for (const std::string& c : columns) {
    namespace kc = ::fedrad::kinds::cohort_counts;
    absl::StatusOr<std::vector<double>> grid = kinds::Get(p, kc::kGrid, c);
    if (!grid.ok()) continue;  // the site released no counts for this column
    FEDRAD_ASSIGN_OR_RETURN(auto counts, kinds::Get(p, kc::kCounts, c));
    FEDRAD_ASSIGN_OR_RETURN(auto n, kinds::Get(p, kc::kN, c));
    if (counts.size() != grid->size() || n.size() != 1 || !std::isfinite(n[0])) {
      return absl::DataLossError(
          absl::StrCat("site ", site, ": malformed cohort.counts result for '", c, "'"));
    }
    models::GridCounts g;
    g.n = CountFromDouble(n[0]);
    g.points = *grid;
    for (double k : counts) {
      // A count outside 0..2^53 is malformed (a double past int64_t was
      // converted: undefined behaviour; found by tests/fuzz).
      if (CountFromDouble(k) < 0) {
        return absl::DataLossError(
            absl::StrCat("site ", site, ": malformed cohort.counts result for '", c, "'"));
      }
      g.counts.push_back(CountFromDouble(k));
    }
    out.by_column[c] = std::move(g);
  }
  return out;
}

models::GridPart CohortPart(const CohortSite& site, const CohortGrids* grids, const std::string& c) {
  models::GridPart part;
  const models::ColumnMoments& m = site.moments.at(c);
  part.grid.n = m.n;
  part.mean = m.mean;
  part.sd = models::StandardDeviation(m);
  part.integer = m.integer;
  if (grids != nullptr) {
    auto it = grids->by_column.find(c);
    if (it != grids->by_column.end() && it->second.n == m.n) part.grid = it->second;
  }
  return part;
}

const std::vector<double>& CohortProbabilities() {
  static const auto* const kProbabilities = new std::vector<double>{0.25, 0.5, 0.75};
  return *kProbabilities;
}

CohortPool PoolCohort(const std::map<std::string, CohortSite>& sites,
                      const std::map<std::string, CohortGrids>& grids) {
  CohortPool pool;
  std::set<std::string> seen;
  for (const auto& [site, sc] : sites) {
    pool.rows += sc.rows;
    for (const auto& c : sc.columns) {
      if (seen.insert(c).second) pool.columns.push_back(c);
    }
  }
  // Pooled moments, from the sites that released each column.
  for (const auto& c : pool.columns) {
    std::vector<models::ColumnMoments> parts;
    for (const auto& [site, sc] : sites) {
      auto it = sc.moments.find(c);
      if (it == sc.moments.end()) {
        pool.missing_sites[c].push_back(absl::StrCat(site, " (column absent)"));
      } else if (sc.suppressed.count(c)) {
        pool.missing_sites[c].push_back(absl::StrCat(site, " (suppressed)"));
      } else {
        parts.push_back(it->second);
      }
    }
    pool.pooled[c] = models::CombineMoments(parts);
  }
  // Quantiles of numeric (non-binary) columns, pooled and per site.
  for (const auto& c : pool.columns) {
    if (pool.pooled[c].binary || pool.pooled[c].n == 0) continue;
    std::vector<models::GridPart> parts;
    bool complete = pool.missing_sites[c].empty();
    for (const auto& [site, sc] : sites) {
      auto it = sc.moments.find(c);
      if (it == sc.moments.end() || sc.suppressed.count(c)) continue;
      auto g = grids.find(site);
      if (g == grids.end()) {
        complete = false;  // the site stopped answering
        continue;
      }
      models::GridPart part = CohortPart(sc, &g->second, c);
      if (!it->second.binary && part.grid.n > 0) {
        pool.site_quantiles[site][c] = models::GridQuantiles({part}, CohortProbabilities());
      }
      parts.push_back(std::move(part));
    }
    if (complete) {
      pool.pooled_quantiles[c] = models::GridQuantiles(parts, CohortProbabilities());
    } else if (pool.missing_sites[c].empty()) {
      pool.missing_sites[c].push_back("a site that stopped answering");
    }
  }
  return pool;
}

absl::StatusOr<CohortPool> PoolCohortFromTranscript(const VerifiedTranscript& transcript) {
  const std::vector<MessagePtr> moments = transcript.Round(CohortMomentsRound());
  if (moments.empty()) return absl::NotFoundError("no site signed cohort.moments");
  std::map<std::string, CohortSite> sites;
  for (const MessagePtr& m : moments) {
    FEDRAD_ASSIGN_OR_RETURN(sites[m->site()],
                            ParseCohortMoments(m->site(), m->contribution().plain()));
  }
  std::map<std::string, CohortGrids> grids;
  for (const MessagePtr& m : transcript.Round(CohortCountsRound())) {
    auto it = sites.find(m->site());
    if (it == sites.end()) continue;
    FEDRAD_ASSIGN_OR_RETURN(grids[m->site()],
                            ParseCohortCounts(m->site(), m->contribution().plain(), it->second.columns));
  }
  return PoolCohort(sites, grids);
}

}  // namespace fedrad::rounds
