# make_formula_df_refs.R -- lmerTest's Satterthwaite df for the fixed effects of
# the several-term models of make_formula_refs.R (same data, same formulas, the
# "tight" control), REML and ML.
#
# Run:  cd test/data && Rscript make_formula_df_refs.R
# Reads penicillin.csv, pastes.csv, ratings.csv, sleepstudy.csv, cake.csv
# (written by make_formula_refs.R); writes formula_df.ref.csv with header
# fit,method,coef,df,se: df = summary(as_lmerModLmerTest(m))$coefficients[, "df"],
# se its "Std. Error"; 17 significant digits.  CI never runs R.

suppressPackageStartupMessages({ library(lme4); library(lmerTest) })

source("formula_models.R")

rows <- character(0)
for (name in names(specs)) {
  s <- specs[[name]]
  d <- read_data(s$file, s$keys)
  for (reml in c(TRUE, FALSE)) {
    m <- lme4::lmer(s$formula, data = d, REML = reml, control = tight_control)
    cf <- summary(as_lmerModLmerTest(m))$coefficients
    for (k in rownames(cf))
      rows <- c(rows, sprintf("%s,%s,%s,%.17g,%.17g", name, if (reml) "REML" else "ML", k,
                              cf[k, "df"], cf[k, "Std. Error"]))
  }
}
writeLines(c("fit,method,coef,df,se", rows), "formula_df.ref.csv")
