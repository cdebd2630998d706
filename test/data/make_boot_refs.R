# make_boot_refs.R -- lme4's parametric-bootstrap percentile intervals,
# confint(m, method = "boot", nsim = 2000, oldNames = FALSE, level = 0.95),
# for test/pgtap/bootstrap.sql, with what the test needs to judge agreement
# within Monte Carlo error.
#
# Run:  cd test/data && Rscript make_boot_refs.R
# Reads sleepstudy.csv, penicillin.csv and dyestuff.csv; writes
# boot.ref.csv with header
#   fit,parameter,estimate,lower,upper,boot_mean,boot_sd,se_lower,se_upper,nsim,failed
# (parameter being lme4's row name, lower-cased as lmm names its columns),
# where lower and upper are confint's interval (boot.ci's "perc" type on the
# replicates of one bootMer run with seed 1), boot_mean and boot_sd the mean
# and SD of the successful replicates, and se_lower and se_upper the Monte
# Carlo standard error of each end: a quarter of the distance between the
# sample quantiles at a +- 2 h, h = sqrt(a (1 - a) / N) (a = 0.025 or
# 0.975), i.e. h times the slope of the quantile function there: the
# order-statistic (binomial) error of a sample quantile, free of any
# assumption on the replicates' distribution (the window of +- 2 h, some
# 28 order statistics at N = 2000, keeps the slope's own noise small).
#   sleepstudy: Reaction ~ Days + (Days | Subject)            one term, random slope
#   penicillin: diameter ~ 1 + (1 | plate) + (1 | sample)     crossed
#   dyestuff:   Yield ~ 1 + (1 | Batch)                       one scalar term
#   dyestuff_ml: the same fitted by ML
# The fits are REML (lme4's default) but dyestuff_ml; bootMer refits each
# replicate as its model was fitted.
# CI never runs R.
suppressPackageStartupMessages({ library(lme4); library(boot) })
source("formula_models.R")
num <- function(x) sprintf("%.17g", x)
nsim <- 2000
level <- 0.95
models <- list(
  sleepstudy = list(file = "sleepstudy.csv", keys = "Subject",
                    formula = Reaction ~ Days + (Days | Subject)),
  penicillin = specs$penicillin,
  dyestuff   = list(file = "dyestuff.csv", keys = "Batch",
                    formula = Yield ~ 1 + (1 | Batch)),
  dyestuff_ml = list(file = "dyestuff.csv", keys = "Batch",
                     formula = Yield ~ 1 + (1 | Batch), REML = FALSE))
rows <- character(0)
for (name in names(models)) {
  s <- models[[name]]
  d <- read_data(s$file, s$keys)
  m <- lmer(s$formula, data = d, REML = is.null(s$REML) || s$REML)
  t0 <- proc.time()
  set.seed(1)
  # confint's own call: the intervals as users see them
  ci <- confint(m, method = "boot", nsim = nsim, level = level, oldNames = FALSE, seed = 1)
  secs <- (proc.time() - t0)[["elapsed"]]
  # the same replicates again (same seed), kept, for their spread
  bootFun <- function(x) {
    ss <- lme4:::Cv_to_Sv(x@theta, n = lengths(x@cnms), s = sigma(x))
    c(ss, fixef(x))
  }
  bb <- bootMer(m, bootFun, nsim = nsim, seed = 1)
  est <- bootFun(m)
  stopifnot(length(est) == nrow(ci))
  for (k in seq_along(est)) {
    t <- bb$t[, k]
    t <- t[is.finite(t)]
    N <- length(t)
    se_end <- function(a) {
      h <- sqrt(a * (1 - a) / N)
      unname(diff(quantile(t, c(a - 2 * h, a + 2 * h), type = 6)) / 4)
    }
    a <- (1 - level) / 2
    rows <- c(rows, paste(name, tolower(rownames(ci)[k]), num(est[k]), num(ci[k, 1]), num(ci[k, 2]),
                          num(mean(t)), num(sd(t)), num(se_end(a)), num(se_end(1 - a)), N,
                          nsim - N, sep = ","))
  }
  cat(name, "done in", secs, "s\n")
}
writeLines(c("fit,parameter,estimate,lower,upper,boot_mean,boot_sd,se_lower,se_upper,nsim,failed", rows),
           "boot.ref.csv")
