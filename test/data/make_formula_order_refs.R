# make_formula_order_refs.R -- R's order of the design columns, for the
# formula-order tests: which terms a formula makes and how they are coded
# (terms()), the fixed-effect columns (model.matrix) and lme4's estimates.
#
# Run:  cd test/data && Rscript make_formula_order_refs.R
#
# Outputs (committed):
#   assay.csv                synthetic data, generated here when absent
#                            (columns y,x,z,k,sample,dilut,trt,flag,g)
#   formula_terms.ref.csv    terms() of formulas on made-up names (no data):
#                            header formula,intercept,ord,label,codes
#   formula_order.ref.csv    lme4 fits to assay.csv: header fit,formula,kind,ord,grp,name,value
# The CI of the project must not need R: this script is only run by hand.
#
# assay.csv (seed 20260301, draws in this order): 24 groups g01..g24, each
# with every sample (a, b, c) x dilut (1, 2, 3) twice, 432 rows;
# trt = sample(c("drug", "placebo"), 432, TRUE), flag = sample(c(TRUE, FALSE),
# 432, TRUE), k = sample(3, 432, TRUE), x = rnorm(432, 5, 2), z = runif(432,
# 0, 10) (both rounded to 6 decimals); per group u = rnorm(24, 0, 2), slopes
# vd = rnorm(24, 0, 0.5) (drug) and vp = rnorm(24, 0, 0.5) (placebo), w =
# rnorm(24, 0, 1.5); e = rnorm(432).  y (rounded to 6 decimals) = 10 + 1.5 x -
# 0.8 z + sample (0, 2, -1.5) + dilut (0, 1.2, 3) + sample:dilut (b2 0.9, c2
# -1.1, b3 1.6, c3 -0.7) + placebo (-2 + w[g] + (0.7 + vp[g]) x) + drug
# vd[g] x + sample:x (b 0.3, c -0.4) + flag (1.1 + 0.25 x) + k (0, 0.6, -0.9)
# + u[g] + e.
#
# formula_terms.ref.csv: for each formula (written y ~ rhs), intercept =
# attr(terms, "intercept"); one row per term in terms() order: ord (1-based),
# label = its term label, codes = its column of attr(terms, "factors") for
# the term's variables, in variable order, joined by spaces (1 contrasts,
# 2 an indicator of every level).  The core test parses "y ~ rhs + (1 | g)"
# for the fixed part and "y ~ 1 + (rhs | g)" for a random term's left side.
#
# formula_order.ref.csv: each model (fit; formula, as lmm() gets it) fitted by
# REML with the "tight" control of formula_models.R (lme4 run to convergence):
#   kind x          ord = column, name = colnames(model.matrix(nobars(formula), d)),
#                   which the script checks equal names(fixef(m))
#   kind beta       ord, name, value = fixef(m)
#   kind z          ord = 1, 2, ... over the rows of as.data.frame(VarCorr(m))
#                   with var2 NA (the random terms' columns in lme4's order),
#                   grp, name = var1
#   kind criterion  value = REML criterion
# Numbers are written with 17 significant digits.

suppressPackageStartupMessages(library(lme4))

RNGkind(kind = "Mersenne-Twister", normal.kind = "Inversion", sample.kind = "Rejection")
source("formula_models.R")

# ---------------------------------------------------------------------------
# 1. data
# ---------------------------------------------------------------------------

make_assay <- function(seed) {
  set.seed(seed)
  d <- expand.grid(rep = 1:2, dilut = 1:3, sample = c("a", "b", "c"), gi = 1:24)
  n <- nrow(d)
  trt <- sample(c("drug", "placebo"), n, replace = TRUE)
  flag <- sample(c(TRUE, FALSE), n, replace = TRUE)
  k <- sample(3L, n, replace = TRUE)
  x <- round(rnorm(n, 5, 2), 6)
  z <- round(runif(n, 0, 10), 6)
  u <- rnorm(24, 0, 2)
  vd <- rnorm(24, 0, 0.5)
  vp <- rnorm(24, 0, 0.5)
  w <- rnorm(24, 0, 1.5)
  e <- rnorm(n)
  si <- match(d$sample, c("a", "b", "c"))
  sd_eff <- matrix(c(0, 0, 0, 0, 0.9, -1.1, 0, 1.6, -0.7), 3, 3)   # [sample, dilut]
  placebo <- trt == "placebo"
  y <- 10 + 1.5 * x - 0.8 * z + c(0, 2, -1.5)[si] + c(0, 1.2, 3)[d$dilut] +
    sd_eff[cbind(si, d$dilut)] +
    ifelse(placebo, -2 + w[d$gi] + (0.7 + vp[d$gi]) * x, vd[d$gi] * x) +
    c(0, 0.3, -0.4)[si] * x + ifelse(flag, 1.1 + 0.25 * x, 0) + c(0, 0.6, -0.9)[k] +
    u[d$gi] + e
  data.frame(y = round(y, 6), x = x, z = z, k = k, sample = d$sample,
             dilut = as.character(d$dilut), trt = trt, flag = ifelse(flag, "TRUE", "FALSE"),
             g = sprintf("g%02d", d$gi), stringsAsFactors = FALSE)
}

if (!file.exists("assay.csv")) {
  a <- make_assay(20260301L)
  writeLines(c(paste(names(a), collapse = ","),
               do.call(paste, c(lapply(a, function(v)
                 if (is.numeric(v)) sprintf("%.15g", v) else v), sep = ","))), "assay.csv")
}
d <- read_data("assay.csv", c("sample", "dilut", "trt", "flag", "g"))
d$flag <- as.logical(as.character(d$flag))
stopifnot(!anyNA(d), is.logical(d$flag), is.numeric(d$k))

# ---------------------------------------------------------------------------
# 2. terms(): which terms, in which order, coded how
# ---------------------------------------------------------------------------

term_formulas <- c(
  "y ~ lbase * trt + lage + v4", "y ~ a * b", "y ~ b:a + a", "y ~ a:b", "y ~ 0 + a + b",
  "y ~ x:a + x:b", "y ~ a:f + a:b", "y ~ (a + b + x)^2", "y ~ (a + b + c + d)^2",
  "y ~ a * b * c * d", "y ~ (a:b + b:c + c:d + d:e + e)^3", "y ~ a:x:b + a",
  "y ~ x:x + a * a", "y ~ (a + b):x", "y ~ a:(b + x)", "y ~ (a + x) * (b + z)",
  "y ~ x^2 + a", "y ~ factor(k) * x + k", "y ~ c:b:a + a:b + c", "y ~ -1 + a",
  "y ~ a + 0", "y ~ 1 + a * b - 1", "y ~ ((a + b) * c)^2", "y ~ (a * b * c)^2",
  "y ~ a * (b + c:d) * e", "y ~ (a + b + c)^2 + a:b:c", "y ~ b + a + b:a + a:c",
  "y ~ (a + b + c + d + e)^9", "y ~ a:b + b:c + a:c + a:b:c", "y ~ x * f - 1 + f:g")

rows <- character(0)
for (s in term_formulas) {
  tt <- terms(as.formula(s))
  fac <- attr(tt, "factors")
  labs <- attr(tt, "term.labels")
  for (j in seq_along(labs)) {
    in_term <- fac[, j] > 0
    rows <- c(rows, sprintf("%s,%d,%d,%s,%s", s, attr(tt, "intercept"), j, labs[j],
                            paste(fac[in_term, j], collapse = " ")))
  }
}
writeLines(c("formula,intercept,ord,label,codes", rows), "formula_terms.ref.csv")

# ---------------------------------------------------------------------------
# 3. model.matrix columns and lme4 fits on assay.csv
# ---------------------------------------------------------------------------

# the model assay.csv was drawn from, with random terms of every kind below
full <- "y ~ x * trt + z + sample * dilut + sample:x + flag * x + factor(k)"
fits <- c(
  order_main     = "y ~ x * trt + z + sample + (1 | g)",
  order_ff       = "y ~ sample * dilut + (1 | g)",
  order_nf       = "y ~ x * sample + dilut + (1 | g)",
  order_ffn      = "y ~ sample * dilut * x + (1 | g)",
  order_nomain   = "y ~ x:sample + z + (1 | g)",
  order_twoslope = "y ~ x:sample + x:dilut + (1 | g)",
  order_noint    = "y ~ 0 + sample + dilut + (1 | g)",
  order_varorder = "y ~ dilut:sample + sample + (1 | g)",
  order_power    = "y ~ (x + z + sample)^2 + (1 | g)",
  order_sepslope = "y ~ 0 + trt + x:trt + (1 | g)",
  order_bool     = "y ~ flag * x + (1 | g)",
  order_distrib  = "y ~ sample * (x + z) - 1 + (1 | g)",
  order_noint2   = "y ~ 0 + x:sample + dilut + (1 | g)",
  order_factor   = "y ~ factor(k) * x + trt + (1 | g)",
  order_group    = "y ~ (trt + sample):x + (1 | g)",
  order_cells    = "y ~ 0 + trt:sample + x + (1 | g)",
  order_full     = paste(full, "+ (1 | g)"),
  order_slope    = paste(full, "+ (x | g)"),
  order_zfactor  = paste(full, "+ (trt + x | g)"),
  order_zfull    = paste(full, "+ (0 + trt | g)"),
  order_zinter   = paste(full, "+ (x:trt | g)"),
  order_zcross   = paste(full, "+ (trt * x | g)"),
  order_zuncor   = paste(full, "+ (x + trt || g)"))

num <- function(x) sprintf("%.17g", x)
rows <- character(0)
for (name in names(fits)) {
  f <- as.formula(fits[[name]])
  xnames <- colnames(model.matrix(nobars(f), d))
  m <- lmer(f, data = d, REML = TRUE, control = tight_control)
  stopifnot(identical(xnames, names(fixef(m))))
  rows <- c(rows, sprintf("%s,%s,x,%d,,%s,", name, fits[[name]], seq_along(xnames), xnames))
  rows <- c(rows, sprintf("%s,%s,beta,%d,,%s,%s", name, fits[[name]], seq_along(xnames),
                          xnames, num(fixef(m))))
  vc <- as.data.frame(VarCorr(m))
  vc <- vc[is.na(vc$var2) & vc$grp != "Residual", ]
  rows <- c(rows, sprintf("%s,%s,z,%d,%s,%s,", name, fits[[name]], seq_len(nrow(vc)),
                          vc$grp, vc$var1))
  rows <- c(rows, sprintf("%s,%s,criterion,0,,,%s", name, fits[[name]],
                          num(m@devcomp$cmp[["REML"]])))
  cat(sprintf("%-15s singular %d  min |beta| %.3g  %s\n", name, isSingular(m),
              min(abs(fixef(m))), paste(xnames, collapse = " ")))
}
writeLines(c("fit,formula,kind,ord,grp,name,value", rows), "formula_order.ref.csv")
