# Reference numbers for the models/ unit tests, made with R 4.2 and
# survival 3.5 (coxph, concordance), stats::glm and metafor::rma.
# Run from the repository root:
#   Rscript models/testdata/make_fixtures.R
# It writes models/testdata/site_{A,B,C}.csv (seeded synthetic cohorts with
# tied times) and models/testdata/reference.json. The C++ tests read both;
# R is not needed in CI.
#
# Where R has no function for a metric (Uno's C, IPCW cumulative/dynamic AUC,
# IPCW Brier score, integrated Brier, O/E at t, Youden point) the reference is
# computed below by the explicit formula written out in docs/models.md, so a
# reader can check the formula against the C++ independently.
suppressPackageStartupMessages({
  library(survival); library(jsonlite); library(metafor)
})
set.seed(20261127)
out_dir <- "models/testdata"

make_site <- function(site, n, shift) {
  x1 <- rnorm(n)
  x2 <- 2 * rnorm(n) + 1
  x3 <- rbinom(n, 1, 0.4)
  x4 <- runif(n)
  lp <- 0.5 * x1 - 0.3 * x2 + 0.7 * x3 + shift
  t_event <- rexp(n, rate = exp(lp) / 600)
  t_cens <- runif(n, 100, 2200)
  time <- pmax(10, 10 * ceiling(pmin(t_event, t_cens) / 10))  # ties: 10-day units
  status <- as.integer(t_event <= t_cens)
  recur2y <- ifelse(status == 1 & time <= 730, 1L, ifelse(time > 730, 0L, NA))
  data.frame(patient_id = sprintf("%s%03d", site, seq_len(n)), time = time,
             status = status, x1 = round(x1, 6), x2 = round(x2, 6), x3 = x3,
             x4 = round(x4, 6), recur2y = recur2y, site = site)
}
sites <- list(A = make_site("A", 50, 0), B = make_site("B", 60, 0.3),
              C = make_site("C", 70, -0.2))
for (s in names(sites)) {
  d <- sites[[s]]; d$site <- NULL
  write.csv(d, file.path(out_dir, sprintf("site_%s.csv", s)), row.names = FALSE,
            na = "", quote = FALSE)
}
all <- do.call(rbind, sites)
covs <- c("x1", "x2", "x3", "x4")
ref <- list()

# --- Stratified Cox, Breslow and Efron (coxph defaults: eps 1e-9, iter.max 20)
fit_cox <- function(ties) {
  f <- coxph(Surv(time, status) ~ x1 + x2 + x3 + x4 + strata(site), data = all,
             ties = ties, control = coxph.control(eps = 1e-9, iter.max = 20))
  list(coefficients = as.list(coef(f)), std_errors = as.list(sqrt(diag(f$var))),
       loglik_null = f$loglik[1], loglik = f$loglik[2], iterations = f$iter,
       information = solve(f$var))
}
ref$cox_breslow <- fit_cox("breslow")
ref$cox_efron <- fit_cox("efron")

# --- Per-site gradient and information at beta = 0 (the aggregation test)
derivs0 <- function(d, ties) {
  f <- coxph(Surv(time, status) ~ x1 + x2 + x3 + x4, data = d, ties = ties,
             init = rep(0, 4), control = coxph.control(iter.max = 0))
  list(loglik = f$loglik[1],
       gradient = unname(colSums(residuals(f, type = "score"))),
       information = unname(solve(f$var)))
}
for (ties in c("breslow", "efron")) {
  ref[[paste0("derivs0_", ties)]] <- lapply(sites, derivs0, ties = ties)
}

# --- Univariate score tests at beta = 0 (stratified, Breslow)
ref$score_tests <- lapply(setNames(covs, covs), function(v) {
  f <- coxph(as.formula(paste("Surv(time, status) ~", v, "+ strata(site)")),
             data = all, ties = "breslow", init = 0,
             control = coxph.control(iter.max = 0))
  unname(f$score)
})
ref$pooled_correlation <- unname(cor(all[, covs]))

# --- Ridge (L2) stratified Cox: coxph ridge() penalty is theta/2 * sum(beta^2)
fr <- coxph(Surv(time, status) ~ ridge(x1, x2, x3, x4, theta = 5, scale = FALSE) +
              strata(site), data = all, ties = "breslow",
            control = coxph.control(eps = 1e-12, iter.max = 50))
ref$cox_ridge_theta5 <- list(coefficients = unname(coef(fr)))

# --- Logistic regression on recur2y (rows without it are excluded)
bin <- all[!is.na(all$recur2y), ]
g <- glm(recur2y ~ x1 + x2 + x3 + x4, family = binomial, data = bin,
         control = glm.control(epsilon = 1e-12, maxit = 50))
ref$logistic <- list(coefficients = as.list(coef(g)),
                     std_errors = as.list(sqrt(diag(vcov(g)))),
                     loglik = as.numeric(logLik(g)),
                     loglik_null = as.numeric(logLik(update(g, . ~ 1))),
                     n = nrow(bin), n_excluded = sum(is.na(all$recur2y)))
# L2-penalised logistic (intercept unpenalised): maximise l(b) - lambda/2 |b[-1]|^2
X <- cbind(1, as.matrix(bin[, covs])); y <- bin$recur2y
pen_obj <- function(b, lambda) {
  eta <- X %*% b
  -(sum(y * eta - log1p(exp(eta))) - lambda / 2 * sum(b[-1]^2))
}
pen_grad <- function(b, lambda) {
  p <- 1 / (1 + exp(-X %*% b))
  -(colSums(X * as.vector(y - p)) - lambda * c(0, b[-1]))
}
op <- optim(coef(g), pen_obj, pen_grad, lambda = 3, method = "BFGS",
            control = list(reltol = 1e-16, maxit = 10000))
ref$logistic_ridge_lambda3 <- list(coefficients = unname(op$par))

# --- Validation of a frozen model developed on sites A and B -------------------
dev <- rbind(sites$A, sites$B)
fdev <- coxph(Surv(time, status) ~ x1 + x2 + x3 + x4 + strata(site), data = dev,
              ties = "breslow")
beta <- coef(fdev)
# Pooled Breslow baseline cumulative hazard over the development sites with the
# fitted beta (one risk set across sites): H0(t) = sum_{t_k <= t} d_k / sum_{T_i >= t_k} exp(lp_i)
lp_dev <- as.vector(as.matrix(dev[, covs]) %*% beta)
event_times <- sort(unique(dev$time[dev$status == 1]))
dH <- sapply(event_times, function(tk)
  sum(dev$time == tk & dev$status == 1) / sum(exp(lp_dev[dev$time >= tk])))
H0_at <- function(t) sum(dH[event_times <= t])
ref$baseline <- list(beta = unname(beta), times = event_times, cumhaz = cumsum(dH))

t_star <- 730; tau <- 1825
# Reverse Kaplan-Meier of censoring; G(t-) is its left limit.
revkm <- function(time, status) {
  s <- survfit(Surv(time, 1 - status) ~ 1)
  list(at = function(t) { i <- findInterval(t, s$time); ifelse(i == 0, 1, s$surv[pmax(i, 1)]) },
       left = function(t) { i <- findInterval(t, s$time, left.open = TRUE); ifelse(i == 0, 1, s$surv[pmax(i, 1)]) })
}
validate_site <- function(d, beta = get("beta", envir = globalenv()),
                          H0_at = get("H0_at", envir = globalenv()),
                          event_times = get("event_times", envir = globalenv())) {
  lp <- as.vector(as.matrix(d[, covs]) %*% beta)
  time <- d$time; status <- d$status; n <- nrow(d)
  cc <- concordance(Surv(time, status) ~ lp, reverse = TRUE)
  G <- revkm(time, status)
  # Uno's C truncated at tau: pairs (i, j) with i an event before tau and
  # T_i < T_j, or T_i == T_j with j censored; weight 1/G(T_i-)^2; lp ties 1/2.
  num <- 0; den <- 0
  for (i in which(status == 1 & time < tau)) {
    w <- 1 / G$left(time[i])^2
    comp <- (time > time[i]) | (time == time[i] & status == 0)
    num <- num + w * sum((lp[i] > lp[comp]) + 0.5 * (lp[i] == lp[comp]))
    den <- den + w * sum(comp)
  }
  # Cumulative/dynamic AUC at t: cases T_i <= t with an event, weight 1/G(T_i-);
  # controls T_j > t (their common weight 1/G(t) cancels).
  cases <- which(time <= t_star & status == 1); ctrls <- which(time > t_star)
  wc <- 1 / G$left(time[cases])
  auc_num <- sum(sapply(seq_along(cases), function(k)
    wc[k] * sum((lp[cases[k]] > lp[ctrls]) + 0.5 * (lp[cases[k]] == lp[ctrls]))))
  auc_t <- auc_num / (sum(wc) * length(ctrls))
  # Brier at t (Graf et al. 1999), IPCW; censored before t contribute 0, stay in n.
  surv_t <- function(t) exp(-H0_at(t) * exp(lp))
  brier_at <- function(t) {
    S <- surv_t(t)
    w_event <- ifelse(time <= t & status == 1, 1 / G$left(time), 0)
    w_alive <- ifelse(time > t, 1 / G$at(t), 0)
    sum(w_event * S^2 + w_alive * (1 - S)^2) / n
  }
  # Integrated Brier over [0, tau]: exact integral of the step function
  # (breakpoints: 0, development event times and validation times <= tau).
  bp <- sort(unique(c(0, event_times[event_times <= tau], time[time <= tau], tau)))
  ibs <- sum(sapply(seq_len(length(bp) - 1), function(k) brier_at(bp[k]) * (bp[k + 1] - bp[k]))) / tau
  # O/E at t: Kaplan-Meier risk at t over the mean predicted risk.
  km <- survfit(Surv(time, status) ~ 1)
  km_t <- summary(km, times = t_star, extend = TRUE)$surv
  oe <- (1 - km_t) / mean(1 - surv_t(t_star))
  cal <- coxph(Surv(time, status) ~ lp, ties = "breslow")
  list(harrell_c = unname(cc$concordance),
       concordant = unname(cc$count["concordant"]), discordant = unname(cc$count["discordant"]),
       tied_risk = unname(cc$count["tied.x"]),
       uno_c = num / den, auc_t = auc_t, brier_t = brier_at(t_star),
       integrated_brier = ibs, oe_ratio_t = oe,
       calibration_slope = unname(coef(cal)), lp = lp)
}
ref$validation_survival <- list(B = validate_site(sites$B), C = validate_site(sites$C),
                                t = t_star, tau = tau)
ccs <- concordance(Surv(time, status) ~ lp + strata(site), reverse = TRUE,
                   data = transform(rbind(sites$B, sites$C),
                                    lp = as.vector(as.matrix(rbind(sites$B, sites$C)[, covs]) %*% beta)))
ref$validation_survival$stratified_c <- unname(ccs$concordance)

# Binary validation: logistic developed on A and B (recur2y), validated on C.
bdev <- dev[!is.na(dev$recur2y), ]
gdev <- glm(recur2y ~ x1 + x2 + x3 + x4, family = binomial, data = bdev,
            control = glm.control(epsilon = 1e-12, maxit = 50))
bval <- sites$C[!is.na(sites$C$recur2y), ]
p <- as.vector(predict(gdev, newdata = bval, type = "response"))
yv <- bval$recur2y
pos <- p[yv == 1]; neg <- p[yv == 0]
auc <- mean(outer(pos, neg, function(a, b) (a > b) + 0.5 * (a == b)))
sens_at <- function(th) mean(pos >= th); spec_at <- function(th) mean(neg < th)
cands <- sort(unique(p))
J <- sapply(cands, function(th) sens_at(th) + spec_at(th) - 1)
youden <- cands[which(J == max(J))[1]]
lg <- qlogis(p)
ci <- glm(yv ~ offset(lg), family = binomial, control = glm.control(epsilon = 1e-12))
cs <- glm(yv ~ lg, family = binomial, control = glm.control(epsilon = 1e-12))
ref$validation_binary <- list(beta = unname(coef(gdev)), auc = auc,
  sensitivity = sens_at(0.5), specificity = spec_at(0.5), youden_threshold = youden,
  sensitivity_youden = sens_at(youden), specificity_youden = spec_at(youden),
  brier = mean((p - yv)^2), calibration_intercept = unname(coef(ci)[1]),
  calibration_slope = unname(coef(cs)[2]), p = p, y = yv)

# --- DerSimonian-Laird on the logit scale (metafor::rma, method = "DL");
# prediction interval by Higgins et al. (2009): mu +- t_{k-2} sqrt(tau2 + se^2).
yi <- c(0.85, 1.10, 0.62, 1.35, 0.95); vi <- c(0.04, 0.06, 0.05, 0.09, 0.03)
m <- rma(yi = yi, vi = vi, method = "DL")
k <- length(yi)
ref$meta_dl <- list(yi = yi, vi = vi, mu = as.numeric(m$beta), se = m$se, tau2 = m$tau2,
                    i2 = m$I2 / 100, q = m$QE, ci_low = m$ci.lb, ci_high = m$ci.ub,
                    pi_low = as.numeric(m$beta) - qt(0.975, k - 2) * sqrt(m$tau2 + m$se^2),
                    pi_high = as.numeric(m$beta) + qt(0.975, k - 2) * sqrt(m$tau2 + m$se^2),
                    qt_975_3 = qt(0.975, 3), qt_975_1 = qt(0.975, 1), qt_975_30 = qt(0.975, 30))

# --- Leave-one-site-out (what examples/studies/loso_validation.textproto runs) --
# For each site: coxph (Breslow, strata(site)) and glm on the other sites, the
# pooled Breslow H0 over them, metrics at the left-out site.
ref$loso <- list()
for (s in names(sites)) {
  tr <- do.call(rbind, sites[names(sites) != s])
  f <- coxph(Surv(time, status) ~ x1 + x2 + x3 + x4 + strata(site), data = tr, ties = "breslow")
  b <- coef(f)
  lp_tr <- as.vector(as.matrix(tr[, covs]) %*% b)
  et <- sort(unique(tr$time[tr$status == 1]))
  dh <- sapply(et, function(tk) sum(tr$time == tk & tr$status == 1) / sum(exp(lp_tr[tr$time >= tk])))
  h0 <- function(t) sum(dh[et <= t])
  v <- validate_site(sites[[s]], b, h0, et)
  v$lp <- NULL
  gtr <- glm(recur2y ~ x1 + x2 + x3 + x4, family = binomial, data = tr[!is.na(tr$recur2y), ],
             control = glm.control(epsilon = 1e-12, maxit = 50))
  bv <- sites[[s]][!is.na(sites[[s]]$recur2y), ]
  pv <- as.vector(predict(gtr, newdata = bv, type = "response"))
  ppos <- pv[bv$recur2y == 1]; pneg <- pv[bv$recur2y == 0]
  ref$loso[[s]] <- list(cox_coefficients = unname(b), cox = v,
                        logistic_coefficients = unname(coef(gtr)),
                        auc = mean(outer(ppos, pneg, function(a, b) (a > b) + 0.5 * (a == b))),
                        brier = mean((pv - bv$recur2y)^2))
}

writeLines(toJSON(ref, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           file.path(out_dir, "reference.json"))
cat("wrote", file.path(out_dir, "reference.json"), "\n")
