# Makes the reference fixtures for harmonization/ (R 4.2, sva 3.46):
#   Rscript harmonization/testdata/make_fixtures.R   (run from the repository root)
#
# Generates a seeded synthetic cohort (4 sites, 12-30 patients each, 6
# features, covariates age and sex) with site-specific location and scale
# effects, writes it as per-site CSVs and one pooled CSV, then runs
# sva::ComBat on it and writes each result with 17 significant digits.
# The C++ tests read these files; they never need R.
suppressMessages(library(sva))
set.seed(20261127)

dir <- "harmonization/testdata"
# Shortest of 15 or 17 significant digits that reads back as the same double.
fmt <- function(x) {
  short <- sprintf("%.15g", x)
  ifelse(is.na(x), "NA",
         ifelse(as.numeric(short) == x, short, sprintf("%.17g", x)))
}

make_site <- function(site, n, loc, scale) {
  age <- round(rnorm(n, 62, 9), 1)
  sex <- rbinom(n, 1, 0.45)
  feats <- matrix(sapply(1:6, function(j) {
    base <- c(10, -3, 250, 0.5, 4, 1200)[j]
    sd <- c(1, 0.5, 40, 0.1, 2, 300)[j]
    base + 0.03 * sd * (age - 62) + 0.4 * sd * sex +
      sd * (loc[j] + scale[j] * rnorm(n))
  }), nrow = n)
  colnames(feats) <- sprintf("f%02d", 1:6)
  data.frame(site = site, patient_id = sprintf("%s-%03d", site, 1:n),
             age = age, sex = sex, feats, stringsAsFactors = FALSE)
}

write_table <- function(df, path) {
  out <- df
  for (c in colnames(out)) if (is.numeric(out[[c]])) out[[c]] <- fmt(out[[c]])
  write.csv(out, path, row.names = FALSE, quote = FALSE)
}

sites <- list(
  make_site("S1", 12, c(0, 0, 0, 0, 0, 0), c(1, 1, 1, 1, 1, 1)),
  make_site("S2", 25, c(0.8, -0.5, 1.2, 0.3, -1, 0.6), c(1.5, 0.7, 1.2, 2, 0.8, 1.3)),
  make_site("S3", 18, c(-0.6, 0.9, -0.4, -1, 0.5, 0.2), c(0.6, 1.4, 0.9, 0.7, 1.6, 0.8)),
  make_site("S4", 30, c(0.3, 0.2, 0.7, 0.6, 1.1, -0.8), c(1.1, 1, 1.8, 1.2, 1, 1.1)))
pooled <- do.call(rbind, sites)
feat_cols <- sprintf("f%02d", 1:6)
for (s in sites) write_table(s[, -1], file.path(dir, sprintf("site_%s.csv", s$site[1])))
write_table(pooled, file.path(dir, "pooled.csv"))

run <- function(df, name, covariates = TRUE, ...) {
  mod <- if (covariates) model.matrix(~age + sex, data = df) else NULL
  harmonized <- ComBat(t(as.matrix(df[, feat_cols])), batch = df$site, mod = mod, ...)
  out <- df
  out[, feat_cols] <- t(harmonized)
  write_table(out, file.path(dir, sprintf("expected_%s.csv", name)))
}

run(pooled, "parametric")
run(pooled, "nonparametric", par.prior = FALSE)
run(pooled, "mean_only", mean.only = TRUE)
run(pooled, "reference_S1", ref.batch = "S1")
run(pooled, "no_covariates", covariates = FALSE)
run(pooled, "nonparametric_mean_only", par.prior = FALSE, mean.only = TRUE)
run(pooled, "reference_S2_nonparametric", par.prior = FALSE, ref.batch = "S2")

# Edge case: f03 constant within S2. sva leaves such a feature unadjusted at
# every site ("uniform expression within a single batch").
constant <- pooled
constant$f03[constant$site == "S2"] <- 250
write_table(constant, file.path(dir, "pooled_constant_feature.csv"))
run(constant, "constant_feature")

# Edge case: a site with a single patient. sva switches every site to the
# mean-only model.
single <- rbind(pooled, make_site("S5", 1, rep(0.5, 6), rep(1, 6)))
write_table(single, file.path(dir, "pooled_single_patient_site.csv"))
run(single, "single_patient_site")

# Without empirical Bayes (no shrinkage: gamma* = gamma-hat, delta* =
# delta-hat). sva has no such switch; this is the L/S model written out from
# sva::ComBat's own steps with the EB step skipped.
no_eb <- function(df) {
  dat <- t(as.matrix(df[, feat_cols]))
  batch <- as.factor(df$site)
  batchmod <- model.matrix(~-1 + batch)
  design <- cbind(batchmod, model.matrix(~age + sex, data = df)[, -1])
  n <- ncol(dat); nb <- table(batch)
  B <- solve(crossprod(design), tcrossprod(t(design), dat))
  grand <- crossprod(as.numeric(nb) / n, B[1:nlevels(batch), ])
  var.pooled <- ((dat - t(design %*% B))^2) %*% rep(1 / n, n)
  tmp <- design; tmp[, 1:nlevels(batch)] <- 0
  stand <- t(grand) %*% t(rep(1, n)) + t(tmp %*% B)
  s <- (dat - stand) / (sqrt(var.pooled) %*% t(rep(1, n)))
  for (b in levels(batch)) {
    i <- which(batch == b)
    g <- rowMeans(s[, i]); d <- apply(s[, i], 1, var)
    s[, i] <- (s[, i] - g) / sqrt(d)
  }
  out <- df
  out[, feat_cols] <- t(s * (sqrt(var.pooled) %*% t(rep(1, n))) + stand)
  write_table(out, file.path(dir, "expected_no_eb.csv"))
}
no_eb(pooled)
cat("fixtures written to", dir, "\n")
