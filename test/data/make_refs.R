# make_refs.R -- reference numbers from R's lme4 / lmerTest for the lmm test suite.
#
# Run:  cd test/data && Rscript make_refs.R
#
# Inputs (committed):  sleepstudy.csv, dyestuff.csv  (lme4's bundled data sets)
# Outputs (committed): unbalanced.csv, singular.csv  (synthetic data, generated here)
#                      <fit>.ref.csv for fit in dyestuff, sleep_int, sleep_slope,
#                      unbalanced, singular; versions.txt
#
# Each <fit>.ref.csv is long format, header method,kind,grp,level,term,term2,value:
#   method  REML | ML
#   kind    fixef se df p t          term = coefficient name (df/p: Satterthwaite, lmerTest)
#           theta                    term = 1-based index of getME(m, "theta")
#           sigma crit logLik AIC BIC singular nobs ngroups   (crit = REMLcrit for REML,
#                                    deviance for ML; ngroups has grp = factor name)
#           vcov sdcor               as.data.frame(VarCorr(m)): grp, term = var1, term2 = var2
#           ranef condsd             grp, level, term = ranef column; condsd = sqrt(diag(postVar))
#           condcov                  off-diagonal conditional covariances (q > 1 only)
#           vcovbeta                 vcov(m)[term, term2], full matrix
#           predict                  level = 1-based row number, value = fitted(m)[row]
# Numbers are written with 17 significant digits (%.17g), which round-trips doubles exactly.
# The CI of the project must not need R: this script is only run by hand to refresh the files.

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
})

RNGkind(kind = "Mersenne-Twister", normal.kind = "Inversion", sample.kind = "Rejection")

num <- function(x) sprintf("%.17g", as.numeric(x))

write_num_csv <- function(df, file) {
  out <- df
  for (j in seq_along(out)) {
    if (is.numeric(out[[j]])) out[[j]] <- num(out[[j]])
  }
  lines <- c(paste(names(out), collapse = ","),
             do.call(paste, c(unname(as.list(out)), sep = ",")))
  writeLines(lines, file)
}

# ---------------------------------------------------------------------------
# 1. synthetic data
# ---------------------------------------------------------------------------

SEED_UNBALANCED <- 20240501L
SEED_SINGULAR <- 2L

make_unbalanced <- function(seed) {
  set.seed(seed)
  ng <- 40L
  # very unbalanced sizes: 6 singletons, the rest 2..30 rows (total 400)
  sizes <- c(rep(1L, 6L),
             2L, 2L, 2L, 2L, 3L, 3L, 4L, 4L, 5L, 5L, 6L, 6L, 7L, 7L, 8L, 8L, 9L,
             10L, 11L, 12L, 13L, 14L, 15L, 16L, 17L, 18L, 19L, 20L, 21L, 22L,
             24L, 24L, 25L, 30L)
  stopifnot(length(sizes) == ng, sum(sizes) == 400L)
  sizes <- sample(sizes)                 # sizes in random group order
  keys <- sprintf("g%02d", seq_len(ng))
  g <- rep(keys, times = sizes)
  n <- length(g)
  sds <- c(2, 0.8, 0.3)
  R <- matrix(c(1.0, 0.4, 0.3,
                0.4, 1.0, 0.5,
                0.3, 0.5, 1.0), 3, 3)
  Sigma <- diag(sds) %*% R %*% diag(sds)
  b <- matrix(rnorm(ng * 3L), ng, 3L) %*% chol(Sigma)   # rows ~ N(0, Sigma)
  x1 <- rnorm(n)
  x2 <- runif(n, 0, 10)
  gi <- match(g, keys)
  y <- 5 + 1.5 * x1 - 0.7 * x2 +
       b[gi, 1] + b[gi, 2] * x1 + b[gi, 3] * x2 +
       rnorm(n, sd = 1)
  perm <- sample(n)                      # rows not sorted by group
  data.frame(y = y, x1 = x1, x2 = x2, g = g, stringsAsFactors = FALSE)[perm, ]
}

make_singular <- function(seed) {
  set.seed(seed)
  g <- rep(1:10, each = 8L)
  x <- runif(80, 0, 10)
  y <- 2 + 0.5 * x + rnorm(80, sd = 1)   # no group effect at all
  data.frame(y = y, x = x, g = g)
}

write_data <- function(df, file) {
  write_num_csv(df, file)
  back <- read.csv(file, colClasses = "character")
  for (j in names(df)) {
    if (is.numeric(df[[j]])) {
      stopifnot(identical(as.numeric(back[[j]]), as.numeric(df[[j]])))
    } else {
      stopifnot(identical(back[[j]], as.character(df[[j]])))
    }
  }
}

write_data(make_unbalanced(SEED_UNBALANCED), "unbalanced.csv")
write_data(make_singular(SEED_SINGULAR), "singular.csv")

# ---------------------------------------------------------------------------
# 2. fits
# ---------------------------------------------------------------------------

read_data <- function(file, key) {
  d <- read.csv(file, colClasses = "character")
  for (j in names(d)) {
    d[[j]] <- if (j == key) factor(d[[j]]) else as.numeric(d[[j]])
  }
  d
}

# Fit, collecting (and muffling) warnings and messages so that they can be checked.
fit <- function(formula, data, REML) {
  warns <- character(0)
  msgs <- character(0)
  m <- withCallingHandlers(
    lmer(formula, data = data, REML = REML),
    warning = function(w) {
      warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning")
    },
    message = function(e) {
      msgs <<- c(msgs, trimws(conditionMessage(e))); invokeRestart("muffleMessage")
    })
  # optimizer warnings and lme4's convergence checks (incl. the singular-fit note)
  conv <- c(m@optinfo$conv$lme4$messages, unlist(m@optinfo$warnings))
  list(m = m, warnings = unique(c(warns, conv)), messages = msgs)
}

specs <- list(
  dyestuff    = list(file = "dyestuff.csv",   key = "Batch",
                     formula = Yield ~ 1 + (1 | Batch)),
  sleep_int   = list(file = "sleepstudy.csv", key = "Subject",
                     formula = Reaction ~ Days + (1 | Subject)),
  sleep_slope = list(file = "sleepstudy.csv", key = "Subject",
                     formula = Reaction ~ Days + (Days | Subject)),
  unbalanced  = list(file = "unbalanced.csv", key = "g",
                     formula = y ~ x1 + x2 + (1 + x1 + x2 | g)),
  singular    = list(file = "singular.csv",   key = "g",
                     formula = y ~ x + (1 | g))
)

# ---------------------------------------------------------------------------
# 3. long-format reference rows
# ---------------------------------------------------------------------------

rows <- function(method, kind, value, grp = "", level = "", term = "", term2 = "") {
  value <- as.numeric(value)
  if (length(value) == 0L) return(NULL)
  data.frame(method = method, kind = kind, grp = grp, level = level,
             term = term, term2 = term2, value = value, stringsAsFactors = FALSE)
}

na2empty <- function(x) ifelse(is.na(x), "", as.character(x))

extract <- function(m, method) {
  out <- list()
  add <- function(...) out[[length(out) + 1L]] <<- rows(method, ...)

  co <- summary(m)$coefficients          # lmerTest: Satterthwaite df and p
  stopifnot(all(c("df", "Pr(>|t|)") %in% colnames(co)))
  tn <- rownames(co)
  stopifnot(identical(tn, names(fixef(m))))
  add("fixef", co[, "Estimate"], term = tn)
  add("se", co[, "Std. Error"], term = tn)
  add("df", co[, "df"], term = tn)
  add("p", co[, "Pr(>|t|)"], term = tn)
  add("t", co[, "t value"], term = tn)

  th <- getME(m, "theta")
  add("theta", th, term = as.character(seq_along(th)))

  add("sigma", sigma(m))
  add("crit", if (isREML(m)) REMLcrit(m) else deviance(m))
  add("logLik", as.numeric(logLik(m)))
  add("AIC", AIC(m))
  add("BIC", BIC(m))
  add("singular", as.numeric(isSingular(m)))
  add("nobs", nobs(m))
  ng <- ngrps(m)
  add("ngroups", ng, grp = names(ng))

  vc <- as.data.frame(VarCorr(m))
  add("vcov", vc$vcov, grp = vc$grp, term = na2empty(vc$var1), term2 = na2empty(vc$var2))
  add("sdcor", vc$sdcor, grp = vc$grp, term = na2empty(vc$var1), term2 = na2empty(vc$var2))

  re <- ranef(m, condVar = TRUE)
  for (gname in names(re)) {
    r <- re[[gname]]
    pv <- attr(r, "postVar")              # q x q x nlevels
    lv <- rownames(r)
    cn <- colnames(r)
    q <- length(cn)
    stopifnot(identical(dim(pv), c(q, q, length(lv))))
    for (j in seq_len(q)) {
      add("ranef", r[[j]], grp = gname, level = lv, term = cn[j])
    }
    for (j in seq_len(q)) {
      add("condsd", sqrt(pv[j, j, ]), grp = gname, level = lv, term = cn[j])
    }
    if (q > 1L) {
      for (j in 1:(q - 1L)) for (k in (j + 1L):q) {
        add("condcov", pv[j, k, ], grp = gname, level = lv, term = cn[j], term2 = cn[k])
      }
    }
  }

  V <- as.matrix(vcov(m))
  vn <- rownames(V)
  stopifnot(identical(vn, tn))
  add("vcovbeta", as.vector(V), term = rep(vn, times = length(vn)),
      term2 = rep(vn, each = length(vn)))

  fv <- fitted(m)
  add("predict", fv, level = as.character(seq_along(fv)))

  do.call(rbind, out)
}

fits <- list()
for (name in names(specs)) {
  s <- specs[[name]]
  d <- read_data(s$file, s$key)
  res <- NULL
  for (method in c("REML", "ML")) {
    f <- fit(s$formula, d, REML = (method == "REML"))
    f$m@call$formula <- s$formula          # so that summary() shows the real formula
    f$m@call$data <- as.name(name)
    fits[[paste(name, method)]] <- f
    cat(sprintf("%-12s %-4s  singular=%s  warnings=%d  messages=%d\n", name, method,
                isSingular(f$m), length(f$warnings), length(f$messages)))
    for (w in f$warnings) cat("    warning: ", w, "\n", sep = "")
    for (msg in f$messages) cat("    message: ", msg, "\n", sep = "")
    res <- rbind(res, extract(f$m, method))
  }
  write_num_csv(res, paste0(name, ".ref.csv"))
}

# Requirements on the synthetic data sets.
for (method in c("REML", "ML")) {
  u <- fits[[paste("unbalanced", method)]]
  if (length(u$warnings) > 0L || length(u$messages) > 0L || isSingular(u$m))
    stop("unbalanced (", method, "): warnings, messages or singular fit; change SEED_UNBALANCED")
  s <- fits[[paste("singular", method)]]
  if (!isSingular(s$m) || getME(s$m, "theta")[1] >= 1e-4)
    stop("singular (", method, "): fit is not singular; change SEED_SINGULAR")
}

# ---------------------------------------------------------------------------
# 4. versions
# ---------------------------------------------------------------------------

writeLines(c(R.version.string,
             paste("lme4", as.character(packageVersion("lme4"))),
             paste("lmerTest", as.character(packageVersion("lmerTest"))),
             paste("Matrix", as.character(packageVersion("Matrix"))),
             paste("lmer optimizer", lmerControl()$optimizer[1])),
           "versions.txt")

for (f in fits) {
  print(summary(f$m))
}
