# make_tight_refs.R -- lme4's fits run to convergence, for the lmm test suite.
#
# Run:  cd test/data && Rscript make_tight_refs.R   (after make_refs.R)
#
# lme4's default optimizer settings (nloptwrap BOBYQA, xtol_abs = ftol_abs =
# 1e-8) stop short of the optimum on flat criteria, by up to 1e-5 relative in
# theta.  lmm polishes theta with Newton steps on the analytic gradient, so it
# ends at the optimum itself.  This script refits every model with BOBYQA's
# tolerances at 1e-14 to show what lme4 converges to; the tests compare with
# both.  Writes <fit>.tight.ref.csv in the format of make_refs.R (kinds fixef,
# se, theta, sigma, crit, vcov, sdcor, ranef, condsd, vcovbeta).

suppressPackageStartupMessages(library(lme4))

num <- function(x) sprintf("%.17g", as.numeric(x))
na2empty <- function(x) ifelse(is.na(x), "", as.character(x))

read_data <- function(file, key) {
  d <- read.csv(file, colClasses = "character")
  for (j in names(d)) d[[j]] <- if (j == key) factor(d[[j]]) else as.numeric(d[[j]])
  d
}

specs <- list(
  dyestuff    = list(file = "dyestuff.csv",   key = "Batch",   formula = Yield ~ 1 + (1 | Batch)),
  sleep_int   = list(file = "sleepstudy.csv", key = "Subject", formula = Reaction ~ Days + (1 | Subject)),
  sleep_slope = list(file = "sleepstudy.csv", key = "Subject", formula = Reaction ~ Days + (Days | Subject)),
  unbalanced  = list(file = "unbalanced.csv", key = "g",       formula = y ~ x1 + x2 + (1 + x1 + x2 | g))
)
# The singular fit is left out: its optimum is on the boundary (theta = 0),
# where lme4's default run and lmm both end; a tight run without lme4's
# boundary step stops at theta ~ 3e-8 instead.

tight <- lmerControl(optimizer = "nloptwrap",
                     optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-14, xtol_rel = 0,
                                    ftol_rel = 0, maxeval = 1e5),
                     check.conv.singular = "ignore", check.conv.grad = "ignore")

rows <- function(method, kind, value, grp = "", level = "", term = "", term2 = "") {
  value <- as.numeric(value)
  data.frame(method = method, kind = kind, grp = grp, level = level, term = term,
             term2 = term2, value = num(value), stringsAsFactors = FALSE)
}

for (name in names(specs)) {
  s <- specs[[name]]
  d <- read_data(s$file, s$key)
  out <- NULL
  for (method in c("REML", "ML")) {
    m <- lmer(s$formula, data = d, REML = (method == "REML"), control = tight)
    co <- summary(m)$coefficients
    tn <- rownames(co)
    vc <- as.data.frame(VarCorr(m))
    V <- as.matrix(vcov(m))
    add <- list(
      rows(method, "fixef", co[, "Estimate"], term = tn),
      rows(method, "se", co[, "Std. Error"], term = tn),
      rows(method, "theta", getME(m, "theta"), term = as.character(seq_along(getME(m, "theta")))),
      rows(method, "sigma", sigma(m)),
      rows(method, "crit", if (isREML(m)) REMLcrit(m) else deviance(m)),
      rows(method, "vcov", vc$vcov, grp = vc$grp, term = na2empty(vc$var1), term2 = na2empty(vc$var2)),
      rows(method, "sdcor", vc$sdcor, grp = vc$grp, term = na2empty(vc$var1), term2 = na2empty(vc$var2)),
      rows(method, "vcovbeta", as.vector(V), term = rep(rownames(V), times = ncol(V)),
           term2 = rep(rownames(V), each = ncol(V))))
    re <- ranef(m, condVar = TRUE)
    for (gname in names(re)) {
      r <- re[[gname]]
      pv <- attr(r, "postVar")
      for (j in seq_along(r)) {
        add[[length(add) + 1L]] <- rows(method, "ranef", r[[j]], grp = gname, level = rownames(r), term = names(r)[j])
        add[[length(add) + 1L]] <- rows(method, "condsd", sqrt(pv[j, j, ]), grp = gname, level = rownames(r), term = names(r)[j])
      }
    }
    out <- rbind(out, do.call(rbind, add))
    cat(sprintf("%-12s %-4s crit %.17g\n", name, method, if (isREML(m)) REMLcrit(m) else deviance(m)))
  }
  lines <- c(paste(names(out), collapse = ","), do.call(paste, c(unname(as.list(out)), sep = ",")))
  writeLines(lines, paste0(name, ".tight.ref.csv"))
}
