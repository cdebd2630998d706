# make_sparse_refs.R -- a crossing large enough for lmm's sparse factor of
# the later terms (test/sql/25_sparse.sql), and lme4's and lmerTest's answers.
#
# Run:  cd test/data && Rscript make_sparse_refs.R
# The data are a formula of the row number i = 1..12000, which the SQL test
# computes the same way (no CSV): a = i mod 3001, b = 7 i mod 1201 (b in
# bands along a: each level of a meets four levels of b seven apart),
# x = (37 i mod 101) / 100, y = sin(a) + cos(b) / 2 + 0.3 x + (7919 i mod 1000) / 1000.
# Writes sparse.ref.csv: per method the REML criterion or ML deviance,
# theta (a, b), sigma, the fixed effects with standard errors and
# lmerTest's Satterthwaite df, 17 digits.  CI never runs R.
suppressMessages(library(lme4))
suppressMessages(library(lmerTest))
source("formula_models.R")
i <- 1:12000
d <- data.frame(a = factor(i %% 3001), b = factor((7 * i) %% 1201),
                x = ((37 * i) %% 101) / 100)
d$y <- sin(i %% 3001) + cos((7 * i) %% 1201) / 2 + 0.3 * d$x + ((7919 * i) %% 1000) / 1000
rows <- character(0)
for (reml in c(TRUE, FALSE)) {
  m <- lmer(y ~ x + (1 | a) + (1 | b), d, REML = reml, control = tight_control)
  th <- getME(m, "theta")
  crit <- if (reml) m@devcomp$cmp[["REML"]] else m@devcomp$cmp[["dev"]]
  co <- summary(m)$coefficients
  meth <- if (reml) "REML" else "ML"
  rows <- c(rows, sprintf("%s,criterion,,%.17g", meth, crit),
            sprintf("%s,theta,a,%.17g", meth, th[["a.(Intercept)"]]),
            sprintf("%s,theta,b,%.17g", meth, th[["b.(Intercept)"]]),
            sprintf("%s,sigma,,%.17g", meth, sigma(m)))
  for (t in rownames(co)) {
    rows <- c(rows, sprintf("%s,estimate,%s,%.17g", meth, t, co[t, "Estimate"]),
              sprintf("%s,std_error,%s,%.17g", meth, t, co[t, "Std. Error"]),
              sprintf("%s,df,%s,%.17g", meth, t, co[t, "df"]))
  }
}
writeLines(c("method,what,term,value", rows), "sparse.ref.csv")
