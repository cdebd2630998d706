# make_inference_refs.R -- inference reference numbers from R's lme4 / lmerTest
# for the lmm test suite: Satterthwaite tests and intervals, profile and Wald
# confidence intervals, likelihood-ratio tests.
#
# Run:  cd test/data && Rscript make_inference_refs.R   (after make_refs.R, which
#       writes unbalanced.csv and singular.csv)
#
# Inputs (committed):  dyestuff.csv, sleepstudy.csv, unbalanced.csv, singular.csv
# Output (committed):  inference.ref.csv; versions.txt is only appended to if the
#                      R / package versions differ from the ones recorded there.
#
# The CI of the project must not need R: this script is only run by hand to
# refresh the file.  Numbers are written with %.17g; NA is written as an empty
# value.
#
# inference.ref.csv is long format, header fit,method,kind,parameter,level,value.
#
# Per model (fit in dyestuff, sleep_int, sleep_slope, unbalanced, singular;
# method = REML | ML, how the model was fitted):
#   df t p                 Satterthwaite (lmerTest, default lmerControl), parameter =
#                          fixed coefficient name
#   conf_low conf_high     lmerTest contest1D(m, L, confint = TRUE, level = 0.95),
#                          i.e. estimate -/+ qt(0.975, df) * se; level = 0.95
#   df_tight p_tight       as df, p, on a fit run to convergence with the tight
#                          control of make_tight_refs.R (not for singular)
#   profile_lower          confint(m, method = "profile", level, oldNames = FALSE)
#   profile_upper          on the default-control lme4 fit, level = 0.95 and 0.90;
#                          parameter = lme4's row name, e.g. "sd_(Intercept)|Subject",
#                          "cor_Days.(Intercept)|Subject", "sigma", "(Intercept)"
#   profile_estimate       the value of each profiled parameter at the optimum the
#                          profile starts from (level empty).  NOTE: lme4 always
#                          profiles the ML deviance.  profile.merMod calls
#                          devfun2(), whose first line is fm <- refitML(fm); for a
#                          REML fit that is a new ML fit (minqa::bobyqa from the
#                          REML theta, default settings), for an ML fit refitML()
#                          returns the fit unchanged.  So for method = REML the
#                          profile intervals, and profile_estimate, are those of
#                          the ML refit (sd, cor, sigma and fixed effects all at the
#                          ML optimum), not of the REML fit.
#   wald_lower wald_upper  confint(m, method = "Wald", level) for the fixed effects,
#                          level = 0.95 and 0.90 (lme4 uses qnorm, not qt)
#
# Likelihood-ratio tests, lme4's anova(small, big) with the default refit = TRUE
# (REML fits are refitted by ML with refitML()):
#   fit = pair name, method = how both inputs were fitted (REML | ML),
#   kinds npar AIC BIC logLik deviance Chisq Df p, parameter = small | big
#   (Chisq, Df, p are NA, i.e. empty, for small);
#   ml_deviance            deviance of refitML(model), parameter = small | big
#   ml_theta               getME(refitML(model), "theta"), parameter = 1-based index,
#                          level = small | big

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
})

num <- function(x) ifelse(is.na(x), "", sprintf("%.17g", as.numeric(x)))

read_data <- function(file, key) {
  d <- read.csv(file, colClasses = "character")
  for (j in names(d)) d[[j]] <- if (j == key) factor(d[[j]]) else as.numeric(d[[j]])
  d
}

specs <- list(
  dyestuff    = list(file = "dyestuff.csv",   key = "Batch",   formula = Yield ~ 1 + (1 | Batch)),
  sleep_int   = list(file = "sleepstudy.csv", key = "Subject", formula = Reaction ~ Days + (1 | Subject)),
  sleep_slope = list(file = "sleepstudy.csv", key = "Subject", formula = Reaction ~ Days + (Days | Subject)),
  unbalanced  = list(file = "unbalanced.csv", key = "g",       formula = y ~ x1 + x2 + (1 + x1 + x2 | g)),
  singular    = list(file = "singular.csv",   key = "g",       formula = y ~ x + (1 | g))
)

tight <- lmerControl(optimizer = "nloptwrap",
                     optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-14, xtol_rel = 0,
                                    ftol_rel = 0, maxeval = 1e5),
                     check.conv.singular = "ignore", check.conv.grad = "ignore")

LEVELS <- c(0.95, 0.90)
lev <- function(L) sprintf("%.2f", L)          # "0.95", "0.90"

out <- list()
add <- function(fit, method, kind, value, parameter = "", level = "") {
  value <- as.numeric(value)
  if (length(value) == 0L) return(invisible())
  out[[length(out) + 1L]] <<- data.frame(fit = fit, method = method, kind = kind,
                                         parameter = parameter, level = level,
                                         value = num(value), stringsAsFactors = FALSE)
}

# Evaluate expr, collecting (and muffling) warnings and messages.
notes <- character(0)
quietly <- function(expr, tag) {
  withCallingHandlers(expr,
    warning = function(w) {
      notes <<- c(notes, paste0(tag, ": warning: ", conditionMessage(w)))
      invokeRestart("muffleWarning")
    },
    message = function(e) {
      notes <<- c(notes, paste0(tag, ": message: ", trimws(conditionMessage(e))))
      invokeRestart("muffleMessage")
    })
}

satterthwaite <- function(m) {
  co <- summary(m)$coefficients
  stopifnot(all(c("df", "Pr(>|t|)") %in% colnames(co)))
  co
}

timings <- character(0)

# ---------------------------------------------------------------------------
# 1. per-model inference
# ---------------------------------------------------------------------------

for (name in names(specs)) {
  s <- specs[[name]]
  d <- read_data(s$file, s$key)
  for (method in c("REML", "ML")) {
    REML <- method == "REML"
    tag <- paste(name, method)

    # a. Satterthwaite, default control
    mt <- quietly(lmerTest::lmer(s$formula, data = d, REML = REML), paste(tag, "lmerTest"))
    co <- satterthwaite(mt)
    tn <- rownames(co)
    add(name, method, "df", co[, "df"], tn)
    add(name, method, "t", co[, "t value"], tn)
    add(name, method, "p", co[, "Pr(>|t|)"], tn)
    for (j in seq_along(tn)) {
      L <- as.numeric(seq_along(tn) == j)
      ct <- contest1D(mt, L, confint = TRUE, level = 0.95)
      stopifnot(isTRUE(all.equal(ct[["df"]], unname(co[j, "df"]), tolerance = 1e-12)))
      add(name, method, "conf_low", ct[["lower"]], tn[j], lev(0.95))
      add(name, method, "conf_high", ct[["upper"]], tn[j], lev(0.95))
    }

    # b. Satterthwaite on the tight fit
    if (name != "singular") {
      mtt <- quietly(lmerTest::lmer(s$formula, data = d, REML = REML, control = tight),
                     paste(tag, "lmerTest tight"))
      cot <- satterthwaite(mtt)
      stopifnot(identical(rownames(cot), tn))
      add(name, method, "df_tight", cot[, "df"], tn)
      add(name, method, "p_tight", cot[, "Pr(>|t|)"], tn)
    }

    # c. profile intervals on the default-control lme4 fit.
    # confint(m, method = "profile", level, oldNames = FALSE) is
    # confint(profile(m, signames = FALSE), level); the profile itself does not
    # depend on level (alphamax = 0.01 covers both), so it is computed once.
    m <- quietly(lme4::lmer(s$formula, data = d, REML = REML), paste(tag, "lme4"))
    t0 <- proc.time()[["elapsed"]]
    pp <- quietly(profile(m, signames = FALSE), paste(tag, "profile"))
    el <- proc.time()[["elapsed"]] - t0
    timings <- c(timings, sprintf("%-12s %-4s profile %.1f s", name, method, el))
    cat(timings[length(timings)], "\n")
    for (L in LEVELS) {
      ci <- quietly(confint(pp, level = L), paste(tag, "confint profile", L))
      if (name == "dyestuff") {             # check the shortcut against confint.merMod
        ci2 <- quietly(confint(m, method = "profile", level = L, oldNames = FALSE),
                       paste(tag, "confint.merMod profile", L))
        stopifnot(identical(unname(ci), unname(ci2)), identical(rownames(ci), rownames(ci2)))
      }
      add(name, method, "profile_lower", ci[, 1], rownames(ci), lev(L))
      add(name, method, "profile_upper", ci[, 2], rownames(ci), lev(L))
    }
    dd <- lme4:::devfun2(m, useSc = TRUE, signames = FALSE)   # what profile() starts from
    est <- attr(dd, "optimum")
    stopifnot(identical(names(est), rownames(ci)))
    # cross-check: the optimum is one of the zeta = 0 points of each slice (at a
    # boundary, e.g. the singular fit, a slice can hold several zeta = 0 points)
    for (pn in names(est)) {
      z0 <- pp[pp$.par == pn & pp$.zeta == 0, pn]
      stopifnot(any(abs(z0 - est[[pn]]) <= 1e-10 * max(1, abs(est[[pn]]))))
    }
    add(name, method, "profile_estimate", est, names(est))

    # d. Wald intervals, fixed effects only
    fe <- names(fixef(m))
    for (L in LEVELS) {
      w <- confint(m, method = "Wald", level = L)[fe, , drop = FALSE]
      add(name, method, "wald_lower", w[, 1], fe, lev(L))
      add(name, method, "wald_upper", w[, 2], fe, lev(L))
    }
  }
}

# ---------------------------------------------------------------------------
# 2. likelihood-ratio tests
# ---------------------------------------------------------------------------

sleep <- read_data("sleepstudy.csv", "Subject")
unbal <- read_data("unbalanced.csv", "g")
pairs <- list(
  sleep_null_vs_int  = list(data = sleep, REML = TRUE,
                            small = Reaction ~ 1 + (1 | Subject),
                            big   = Reaction ~ Days + (1 | Subject)),
  sleep_int_vs_slope = list(data = sleep, REML = TRUE,
                            small = Reaction ~ Days + (1 | Subject),
                            big   = Reaction ~ Days + (Days | Subject)),
  unbal_int_vs_full  = list(data = unbal, REML = TRUE,
                            small = y ~ x1 + x2 + (1 | g),
                            big   = y ~ x1 + x2 + (1 + x1 + x2 | g)),
  unbal_drop_x2      = list(data = unbal, REML = FALSE,
                            small = y ~ x1 + (1 + x1 | g),
                            big   = y ~ x1 + x2 + (1 + x1 | g))
)

for (pname in names(pairs)) {
  pr <- pairs[[pname]]
  method <- if (pr$REML) "REML" else "ML"
  ms <- list(small = quietly(lme4::lmer(pr$small, data = pr$data, REML = pr$REML), paste(pname, "small")),
             big   = quietly(lme4::lmer(pr$big,   data = pr$data, REML = pr$REML), paste(pname, "big")))
  a <- quietly(anova(ms$small, ms$big, model.names = c("small", "big")), paste(pname, "anova"))
  a <- as.data.frame(a)
  stopifnot(identical(sort(rownames(a)), c("big", "small")),
            a["small", "npar"] < a["big", "npar"])
  cols <- c(npar = "npar", AIC = "AIC", BIC = "BIC", logLik = "logLik", deviance = "deviance",
            Chisq = "Chisq", Df = "Df", p = "Pr(>Chisq)")
  for (k in names(cols)) {
    for (which in c("small", "big")) add(pname, method, k, a[which, cols[[k]]], which)
  }
  for (which in c("small", "big")) {
    mml <- refitML(ms[[which]])
    add(pname, method, "ml_deviance", deviance(mml), which)
    th <- getME(mml, "theta")
    add(pname, method, "ml_theta", th, as.character(seq_along(th)), which)
    stopifnot(isTRUE(all.equal(deviance(mml), a[which, "deviance"], tolerance = 1e-12)))
  }
}

# ---------------------------------------------------------------------------
# 3. write
# ---------------------------------------------------------------------------

res <- do.call(rbind, out)
lines <- c(paste(names(res), collapse = ","), do.call(paste, c(unname(as.list(res)), sep = ",")))
writeLines(lines, "inference.ref.csv")

versions <- c(R.version.string,
              paste("lme4", as.character(packageVersion("lme4"))),
              paste("lmerTest", as.character(packageVersion("lmerTest"))),
              paste("Matrix", as.character(packageVersion("Matrix"))),
              paste("lmer optimizer", lmerControl()$optimizer[1]))
old <- if (file.exists("versions.txt")) readLines("versions.txt") else character(0)
if (!all(versions %in% old)) {
  cat("versions differ from versions.txt; appending\n")
  write(c("", "make_inference_refs.R:", versions), "versions.txt", append = TRUE)
}

cat("\nrows per kind:\n")
print(table(res$kind))
cat("\nempty (NA) values:\n")
print(res[res$value == "", c("fit", "method", "kind", "parameter", "level")], row.names = FALSE)
cat("\ntimings:\n", paste(timings, collapse = "\n"), "\n", sep = "")
cat("\nwarnings / messages:\n", paste(unique(notes), collapse = "\n"), "\n", sep = "")
