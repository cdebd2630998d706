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

read_data <- function(file, keys) {
  d <- read.csv(file, colClasses = "character")
  for (j in names(d)) {
    if (j %in% keys) {
      lv <- unique(d[[j]])
      lv <- if (all(grepl("^[0-9]+$", lv))) lv[order(as.integer(lv))] else sort(lv)
      d[[j]] <- factor(d[[j]], levels = lv)
    } else {
      d[[j]] <- as.numeric(d[[j]])
    }
  }
  d
}

specs <- list(
  penicillin  = list(file = "penicillin.csv", keys = c("plate", "sample"),
                     formula = diameter ~ 1 + (1 | plate) + (1 | sample)),
  pastes      = list(file = "pastes.csv", keys = c("batch", "cask", "sample"),
                     formula = strength ~ 1 + (1 | batch/cask)),
  ratings     = list(file = "ratings.csv", keys = c("a", "b"),
                     formula = y ~ x + (x | a) + (1 | b)),
  sleep_uncor = list(file = "sleepstudy.csv", keys = "Subject",
                     formula = Reaction ~ Days + (Days || Subject)),
  cake        = list(file = "cake.csv", keys = c("replicate", "recipe", "temperature"),
                     formula = angle ~ recipe + temp + (1 | recipe:replicate))
)
tight <- lmerControl(optimizer = "nloptwrap",
                     optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-14, xtol_rel = 0,
                                    ftol_rel = 0, maxeval = 1e5),
                     check.conv.singular = "ignore", check.conv.grad = "ignore")

rows <- character(0)
for (name in names(specs)) {
  s <- specs[[name]]
  d <- read_data(s$file, s$keys)
  for (reml in c(TRUE, FALSE)) {
    m <- lme4::lmer(s$formula, data = d, REML = reml, control = tight)
    cf <- summary(as_lmerModLmerTest(m))$coefficients
    for (k in rownames(cf))
      rows <- c(rows, sprintf("%s,%s,%s,%.17g,%.17g", name, if (reml) "REML" else "ML", k,
                              cf[k, "df"], cf[k, "Std. Error"]))
  }
}
writeLines(c("fit,method,coef,df,se", rows), "formula_df.ref.csv")
