# make_profile_terms_refs.R -- lme4's likelihood-profile intervals for models
# with several random-effects terms (or one, fitted through lmm()):
# confint(m, method = "profile", level, oldNames = FALSE), computed as
# confint(profile(m, signames = FALSE), level) on the default-control lme4 fit.
#
# Run:  cd test/data && Rscript make_profile_terms_refs.R
# Reads penicillin.csv, pastes.csv, ratings.csv and sleepstudy.csv
# (formula_models.R); writes
# profile_terms.ref.csv with header fit,method,level,parameter,estimate,lower,upper
# (17 digits), parameter being lme4's row name ("sd_(Intercept)|plate",
# "cor_x.(Intercept)|a", "sigma", "(Intercept)", ...) and estimate the value
# at the optimum the profile starts from.  lme4 profiles the ML deviance: a
# REML fit is refitted by ML first (devfun2 calls refitML), so REML and ML
# rows differ only by where the two ML optima stop.
#   penicillin: diameter ~ 1 + (1 | plate) + (1 | sample)     crossed
#   pastes:     strength ~ 1 + (1 | batch/cask)               nested
#   ratings:    y ~ x + (x | a) + (1 | b)                     crossed, random slope
#   sleep_uncor: Reaction ~ Days + (Days || Subject)          two terms of one factor
# CI never runs R.
suppressPackageStartupMessages(library(lme4))
source("formula_models.R")
num <- function(x) sprintf("%.17g", x)
rows <- character(0)
for (name in c("penicillin", "pastes", "ratings", "sleep_uncor")) {
  s <- specs[[name]]
  d <- read_data(s$file, s$keys)
  for (method in c("REML", "ML")) {
    m <- lmer(s$formula, data = d, REML = (method == "REML"))
    pp <- profile(m, signames = FALSE)
    est <- attr(lme4:::devfun2(m, useSc = TRUE, signames = FALSE), "optimum")
    for (L in c(0.95, 0.90)) {
      ci <- confint(pp, level = L)
      stopifnot(identical(names(est), rownames(ci)))
      rows <- c(rows, paste(name, method, sprintf("%.2f", L), rownames(ci), num(est),
                            num(ci[, 1]), num(ci[, 2]), sep = ","))
    }
    cat(name, method, "done\n")
  }
}
writeLines(c("fit,method,level,parameter,estimate,lower,upper", rows), "profile_terms.ref.csv")
