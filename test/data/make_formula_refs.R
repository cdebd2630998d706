# make_formula_refs.R -- reference numbers from R's lme4 for the lmm formula tests:
# crossed, nested, uncorrelated (||) and interaction grouping factors.
#
# Run:  cd test/data && Rscript make_formula_refs.R
#
# Inputs (committed):  sleepstudy.csv; lme4's bundled Penicillin, Pastes, cake
# Outputs (committed): penicillin.csv, pastes.csv, cake.csv   (lme4's data sets)
#                      ratings.csv                            (synthetic, generated here)
#                      formula.ref.csv; versions.txt is only appended to if the
#                      R / package versions differ from the ones recorded there.
#
# The data CSVs have a header row, no row names, factors as their labels and
# numbers in the shortest form that reads back to the same double (checked).
# Every model is fitted to the data as read back from its CSV.
#
# ratings.csv (seed 20261121, draws in this order): a = sample(40, 1200, TRUE),
# b = sample(30, 1200, TRUE), x = rnorm(1200, 5, 2) rounded to 6 decimals,
# (A0, A1) = 40 draws of N(0, Sigma) via matrix(rnorm(80), 40, 2) %*% chol(Sigma)
# with sds 2, 0.5 and correlation 0.3, B0 = rnorm(30, 0, 1.5), e = rnorm(1200);
# y = 10 + 1.5 x + A0[a] + A1[a] x + B0[b] + e, rounded to 6 decimals.
# Labels a01..a40, b01..b30.
#
# Models (fit name: formula), each with REML = TRUE and FALSE, and each with
# control "default" (lmerControl()) and "tight" (the control of make_tight_refs.R:
# nloptwrap with xtol_abs = ftol_abs = 1e-14, xtol_rel = ftol_rel = 0,
# maxeval = 1e5, singular and gradient checks off):
#   penicillin   diameter ~ 1 + (1 | plate) + (1 | sample)
#   pastes       strength ~ 1 + (1 | batch/cask)
#   ratings      y ~ x + (x | a) + (1 | b)
#   sleep_uncor  Reaction ~ Days + (Days || Subject)
#   cake         angle ~ recipe + temp + (1 | recipe:replicate)
#                (replicate is a factor with levels in numeric order 1..15)
#
# formula.ref.csv is long format, header fit,method,control,kind,grp,var1,var2,level,value:
#   fit       name above; method REML | ML; control default | tight
#   kind
#     beta se        var1 = coefficient name (names(fixef(m))); se = sqrt(diag(vcov(m)))
#     vcov           var1, var2 = coefficient names, all pairs
#     sdcor vcomp    one row per row of as.data.frame(VarCorr(m)): grp, var1, var2
#                    (empty if NA); sdcor = $sdcor, vcomp = $vcov.  grp is lme4's term
#                    name, e.g. "Subject.1" for the second term of (Days || Subject)
#     theta          var1 = names(getME(m, "theta")), in lme4's order
#     sigma criterion loglik aic bic nobs singular
#                    value only; criterion = m@devcomp$cmp[["REML"]] for REML fits,
#                    m@devcomp$cmp[["dev"]] for ML; singular = isSingular(m) (0/1)
#     ngrps          grp = factor name as in names(ngrps(m))
#     ranef          grp = name of the ranef(m) element (grouping factor; the two
#                    terms of || share one element), var1 = column, level = row name
#     condsd         same keys, sqrt of the diagonal of the postVar of ranef(m,
#                    condVar = TRUE) (for || lme4 gives one 1x1 postVar per term)
#     condcov        terms with 2 columns only: var1, var2 = the two columns, level,
#                    value = off-diagonal postVar element
#     termorder      one row per random-effects term in lme4's order (getME(m, "cnms"),
#                    = VarCorr order): grp = term name as in VarCorr / sdcor rows,
#                    var1 = grouping factor name (names(getME(m, "flist"))),
#                    value = 1-based position of the term
# Numbers are written with 17 significant digits (%.17g); NA is written as an
# empty value.  The CI of the project must not need R: this script is only run
# by hand to refresh the files.

suppressPackageStartupMessages(library(lme4))

RNGkind(kind = "Mersenne-Twister", normal.kind = "Inversion", sample.kind = "Rejection")

num <- function(x) ifelse(is.na(x), "", sprintf("%.17g", as.numeric(x)))
na2empty <- function(x) ifelse(is.na(x), "", as.character(x))

# shortest of %.15g, %.16g, %.17g that reads back to the same double
short_num <- function(x) {
  x <- as.numeric(x)
  out <- sprintf("%.15g", x)
  for (d in 16:17) {
    bad <- as.numeric(out) != x
    out[bad] <- sprintf(paste0("%.", d, "g"), x[bad])
  }
  out
}

write_data <- function(df, file) {
  out <- df
  for (j in seq_along(out)) {
    out[[j]] <- if (is.numeric(out[[j]])) short_num(out[[j]]) else as.character(out[[j]])
    stopifnot(!any(grepl("[,\"\n]", out[[j]])))
  }
  writeLines(c(paste(names(out), collapse = ","),
               do.call(paste, c(unname(as.list(out)), sep = ","))), file)
  back <- read.csv(file, colClasses = "character")
  stopifnot(identical(names(back), names(df)), nrow(back) == nrow(df))
  for (j in names(df)) {
    if (is.numeric(df[[j]])) {
      stopifnot(identical(as.numeric(back[[j]]), as.numeric(df[[j]])))
    } else {
      stopifnot(identical(back[[j]], as.character(df[[j]])))
    }
  }
}

# ---------------------------------------------------------------------------
# 1. data
# ---------------------------------------------------------------------------

SEED_RATINGS <- 20261121L

make_ratings <- function(seed) {
  set.seed(seed)
  n <- 1200L; na <- 40L; nb <- 30L
  ai <- sample(na, n, replace = TRUE)
  bi <- sample(nb, n, replace = TRUE)
  x <- round(rnorm(n, mean = 5, sd = 2), 6)
  sds <- c(2, 0.5)
  Sigma <- diag(sds) %*% matrix(c(1, 0.3, 0.3, 1), 2, 2) %*% diag(sds)
  A <- matrix(rnorm(na * 2L), na, 2L) %*% chol(Sigma)    # rows ~ N(0, Sigma)
  B0 <- rnorm(nb, 0, 1.5)
  y <- 10 + 1.5 * x + A[ai, 1] + A[ai, 2] * x + B0[bi] + rnorm(n, sd = 1)
  data.frame(y = round(y, 6), x = x,
             a = sprintf("a%02d", ai), b = sprintf("b%02d", bi), stringsAsFactors = FALSE)
}

write_data(data.frame(diameter = Penicillin$diameter,
                      plate = as.character(Penicillin$plate),
                      sample = as.character(Penicillin$sample),
                      stringsAsFactors = FALSE), "penicillin.csv")
write_data(data.frame(strength = Pastes$strength,
                      batch = as.character(Pastes$batch),
                      cask = as.character(Pastes$cask),
                      sample = as.character(Pastes$sample),
                      stringsAsFactors = FALSE), "pastes.csv")
write_data(data.frame(replicate = as.integer(as.character(cake$replicate)),
                      recipe = as.character(cake$recipe),
                      temperature = as.character(cake$temperature),
                      angle = as.numeric(cake$angle),
                      temp = cake$temp,
                      stringsAsFactors = FALSE), "cake.csv")
write_data(make_ratings(SEED_RATINGS), "ratings.csv")

source("formula_models.R")

# ---------------------------------------------------------------------------
# 2. fits
# ---------------------------------------------------------------------------

controls <- list(default = lmerControl(), tight = tight_control)

# Fit, collecting (and muffling) warnings and messages so that they can be reported.
fit <- function(formula, data, REML, control) {
  warns <- character(0)
  msgs <- character(0)
  m <- withCallingHandlers(
    lmer(formula, data = data, REML = REML, control = control),
    warning = function(w) {
      warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning")
    },
    message = function(e) {
      msgs <<- c(msgs, trimws(conditionMessage(e))); invokeRestart("muffleMessage")
    })
  conv <- c(m@optinfo$conv$lme4$messages, unlist(m@optinfo$warnings))
  list(m = m, warnings = unique(c(warns, conv)), messages = msgs)
}

# ---------------------------------------------------------------------------
# 3. long-format reference rows
# ---------------------------------------------------------------------------

extract <- function(m) {
  out <- list()
  add <- function(kind, value, grp = "", var1 = "", var2 = "", level = "") {
    value <- as.numeric(value)
    if (length(value) == 0L) return(invisible())
    out[[length(out) + 1L]] <<- data.frame(kind = kind, grp = grp, var1 = var1, var2 = var2,
                                           level = level, value = num(value),
                                           stringsAsFactors = FALSE)
  }

  b <- fixef(m)
  tn <- names(b)
  V <- as.matrix(vcov(m))
  stopifnot(identical(rownames(V), tn), identical(colnames(V), tn))
  add("beta", b, var1 = tn)
  add("se", sqrt(diag(V)), var1 = tn)
  add("vcov", as.vector(V), var1 = rep(tn, times = length(tn)), var2 = rep(tn, each = length(tn)))

  vc <- as.data.frame(VarCorr(m))
  add("sdcor", vc$sdcor, grp = vc$grp, var1 = na2empty(vc$var1), var2 = na2empty(vc$var2))
  add("vcomp", vc$vcov, grp = vc$grp, var1 = na2empty(vc$var1), var2 = na2empty(vc$var2))

  th <- getME(m, "theta")
  add("theta", th, var1 = names(th))

  cmp <- m@devcomp$cmp
  add("sigma", sigma(m))
  add("criterion", if (isREML(m)) cmp[["REML"]] else cmp[["dev"]])
  add("loglik", as.numeric(logLik(m)))
  add("aic", AIC(m))
  add("bic", BIC(m))
  add("nobs", nobs(m))
  add("singular", as.numeric(isSingular(m)))
  ng <- ngrps(m)
  add("ngrps", ng, grp = names(ng))

  re <- ranef(m, condVar = TRUE)
  for (gname in names(re)) {
    r <- re[[gname]]
    pv <- attr(r, "postVar")
    lv <- rownames(r)
    cn <- colnames(r)
    for (j in seq_along(cn)) add("ranef", r[[j]], grp = gname, var1 = cn[j], level = lv)
    if (is.list(pv)) {
      # several terms on one factor (||): one postVar array per term
      stopifnot(identical(unname(unlist(lapply(pv, function(a) dim(a)[1]))), rep(1L, length(cn))))
      for (j in seq_along(cn)) add("condsd", sqrt(pv[[j]][1, 1, ]), grp = gname, var1 = cn[j], level = lv)
    } else {
      q <- length(cn)
      stopifnot(identical(dim(pv), c(q, q, length(lv))))
      for (j in seq_len(q)) add("condsd", sqrt(pv[j, j, ]), grp = gname, var1 = cn[j], level = lv)
      if (q == 2L) add("condcov", pv[1, 2, ], grp = gname, var1 = cn[1], var2 = cn[2], level = lv)
      stopifnot(q <= 2L)
    }
  }

  cnms <- getME(m, "cnms")
  fl <- getME(m, "flist")
  tnames <- names(VarCorr(m))
  stopifnot(length(tnames) == length(cnms))
  add("termorder", seq_along(cnms), grp = tnames, var1 = names(fl)[attr(fl, "assign")])

  do.call(rbind, out)
}

res <- NULL
report <- NULL
for (name in names(specs)) {
  s <- specs[[name]]
  d <- read_data(s$file, s$keys)
  for (method in c("REML", "ML")) {
    for (cname in names(controls)) {
      f <- fit(s$formula, d, REML = (method == "REML"), control = controls[[cname]])
      m <- f$m
      cat(sprintf("%-12s %-4s %-7s crit %.17g  singular=%s  warnings=%d  messages=%d\n",
                  name, method, cname, if (isREML(m)) REMLcrit(m) else deviance(m),
                  isSingular(m), length(f$warnings), length(f$messages)))
      for (w in f$warnings) cat("    warning: ", w, "\n", sep = "")
      for (msg in f$messages) cat("    message: ", msg, "\n", sep = "")
      e <- extract(m)
      res <- rbind(res, data.frame(fit = name, method = method, control = cname, e,
                                   stringsAsFactors = FALSE))
    }
  }
}

stopifnot(!any(grepl("[,\"\n]", unlist(res[c("grp", "var1", "var2", "level")]))))
writeLines(c(paste(names(res), collapse = ","),
             do.call(paste, c(unname(as.list(res)), sep = ","))), "formula.ref.csv")
cat(sprintf("formula.ref.csv: %d rows\n", nrow(res)))

# ---------------------------------------------------------------------------
# 4. versions
# ---------------------------------------------------------------------------

ver <- c(R.version.string,
         paste("lme4", as.character(packageVersion("lme4"))),
         paste("lmerTest", as.character(packageVersion("lmerTest"))),
         paste("Matrix", as.character(packageVersion("Matrix"))),
         paste("lmer optimizer", lmerControl()$optimizer[1]))
old <- if (file.exists("versions.txt")) readLines("versions.txt") else character(0)
if (!all(ver %in% old)) {
  cat(c("", "make_formula_refs.R:", ver), file = "versions.txt", sep = "\n", append = TRUE)
  cat("versions.txt: appended\n")
}
