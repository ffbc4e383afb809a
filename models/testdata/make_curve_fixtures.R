# Reference numbers for models/curves_test.cc (calibration bins, Kaplan-Meier
# by risk group, ROC at fixed thresholds), made with R 4.2 and survival 3.5.
# Run from the repository root:
#   Rscript models/testdata/make_curve_fixtures.R
# It reads models/testdata/site_{A,C}.csv (written by make_fixtures.R) and
# writes models/testdata/curves_reference.json. R is not needed in CI.
#
# The linear predictor is fixed (the cohort's generating model,
# lp = 0.5 x1 - 0.3 x2 + 0.7 x3) and the baseline H0(t) = t / 600, so the
# numbers do not depend on a fit. Bins: patients ordered by predicted risk
# (order() is stable), split into B = min(10, floor(n / k)) groups whose sizes
# differ by at most one, the larger ones first.
suppressPackageStartupMessages({ library(survival); library(jsonlite) })
dir <- "models/testdata"
A <- read.csv(file.path(dir, "site_A.csv"))
C <- read.csv(file.path(dir, "site_C.csv"))
lp_of <- function(d) 0.5 * d$x1 - 0.3 * d$x2 + 0.7 * d$x3
t <- 730
k <- 8  # 70 rows -> 8 bins of sizes 9,9,9,9,9,9,8,8
bins_of <- function(risk, k, max_bins = 10) {
  n <- length(risk); B <- min(max_bins, n %/% k)
  o <- order(risk)
  sizes <- rep(n %/% B, B) + c(rep(1, n %% B), rep(0, B - n %% B))
  split(o, rep(seq_len(B), sizes))
}

# Survival calibration: mean predicted risk at t; 1 - KM(t) with R survfit's
# default log-scale Greenwood interval.
lpC <- lp_of(C)
risk <- 1 - exp(-t / 600 * exp(lpC))
surv_cal <- list(predicted = c(), observed = c(), ci_low = c(), ci_high = c(), n = c())
for (b in bins_of(risk, k)) {
  f <- survfit(Surv(time, status) ~ 1, data = C[b, ], conf.type = "log")
  s <- summary(f, times = t, extend = TRUE)
  surv_cal$predicted <- c(surv_cal$predicted, mean(risk[b]))
  surv_cal$observed <- c(surv_cal$observed, 1 - s$surv)
  surv_cal$ci_low <- c(surv_cal$ci_low, 1 - s$upper)
  surv_cal$ci_high <- c(surv_cal$ci_high, 1 - s$lower)
  surv_cal$n <- c(surv_cal$n, length(b))
}

# Binary calibration: rows with recur2y; Wilson = prop.test(correct = FALSE).
Cb <- C[!is.na(C$recur2y), ]
p <- plogis(lp_of(Cb) - 0.4)
bin_cal <- list(predicted = c(), observed = c(), ci_low = c(), ci_high = c(), n = c())
for (b in bins_of(p, k)) {
  x <- sum(Cb$recur2y[b]); n <- length(b)
  ci <- suppressWarnings(prop.test(x, n, correct = FALSE))$conf.int  # small-n warning only
  bin_cal$predicted <- c(bin_cal$predicted, mean(p[b]))
  bin_cal$observed <- c(bin_cal$observed, x / n)
  bin_cal$ci_low <- c(bin_cal$ci_low, ci[1])
  bin_cal$ci_high <- c(bin_cal$ci_high, ci[2])
  bin_cal$n <- c(bin_cal$n, n)
}

# Kaplan-Meier by risk group at site C, cut-points = site A's lp tertiles
# (type 7); grid every 90 days to 1825; released while n.risk >= k.
cuts <- unname(quantile(lp_of(A), c(1 / 3, 2 / 3)))
grid <- seq(90, 1825, by = 90)
group <- ifelse(lpC <= cuts[1], 1, ifelse(lpC <= cuts[2], 2, 3))
km <- list()
for (g in 1:3) {
  d <- C[group == g, ]
  f <- survfit(Surv(time, status) ~ 1, data = d)
  s <- summary(f, times = grid, extend = TRUE)
  keep <- cumprod(s$n.risk >= k) == 1
  km[[g]] <- list(n = nrow(d), events = sum(d$status), time = s$time[keep],
                  survival = s$surv[keep], n_at_risk = s$n.risk[keep])
}

# ROC at p = 0, 0.02, ..., 1 (positive when p >= c), explicit formula.
thr <- rev(seq(0, 1, by = 0.02))
y <- Cb$recur2y
roc <- list(fpr = sapply(thr, function(c) sum(p >= c & y == 0) / sum(y == 0)),
            tpr = sapply(thr, function(c) sum(p >= c & y == 1) / sum(y == 1)),
            n_pos = sum(y == 1), n_neg = sum(y == 0))

# Cox: cumulative/dynamic ROC at t on the predicted risk at t (site C's
# `risk` above): cases T <= t with an event weighted 1/G(T-), G the reverse
# Kaplan-Meier of the censoring (its left limit: times are in 10-day units);
# controls T > t.
fitG <- survfit(Surv(time, 1 - status) ~ 1, data = C)
G_left <- function(x) summary(fitG, times = x - 1e-6, extend = TRUE)$surv
case <- C$time <= t & C$status == 1
ctrl <- C$time > t
w <- 1 / sapply(C$time[case], G_left)
td_roc <- list(fpr = sapply(thr, function(c) sum(risk[ctrl] >= c) / sum(ctrl)),
               tpr = sapply(thr, function(c) sum(w[risk[case] >= c]) / sum(w)),
               n_pos = sum(case), n_neg = sum(ctrl))

out <- list(t = t, k = k, survival_calibration = surv_cal, binary_calibration = bin_cal,
            cuts = cuts, grid = grid, km_groups = km, roc = roc, td_roc = td_roc)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           file.path(dir, "curves_reference.json"))
cat("wrote", file.path(dir, "curves_reference.json"), "\n")
