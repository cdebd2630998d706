# make_terms_predict_refs.R -- lme4's predictions for models with several
# random-effects terms, for the lmm scoring tests (test/pgtap/score_terms.sql).
#
# Run:  cd test/data && Rscript make_terms_predict_refs.R
#
# Inputs (committed):  penicillin.csv, pastes.csv, ratings.csv, sleepstudy.csv
#                      (written by make_formula_refs.R)
# Output (committed):  predict_terms.ref.csv
#
# Refits four models of make_formula_refs.R with its "tight" control (lme4 run
# to convergence, which is where lmm ends), REML and ML:
#   penicillin   diameter ~ 1 + (1 | plate) + (1 | sample)
#   pastes       strength ~ 1 + (1 | batch/cask)
#   ratings      y ~ x + (x | a) + (1 | b)
#   sleep_uncor  Reaction ~ Days + (Days || Subject)
# and predicts a grid of new rows: every combination of levels the model saw
# and a level it never saw ("new") for each factor, at covariate values
# inside and outside the data.  Columns:
#   fit, method, g1, g2, x, cond, pop
# g1, g2 = the grouping variables of the row (penicillin: plate, sample;
# pastes: batch, cask; ratings: a, b; sleep_uncor: Subject, empty), x = the
# covariate (ratings: x; sleep_uncor: Days; else empty),
# cond = predict(m, newdata, allow.new.levels = TRUE) (a new level adds
# nothing), pop = predict(m, newdata, re.form = NA).
# Numbers are written with 17 significant digits.  The CI of the project must
# not need R: this script is only run by hand to refresh the file.

suppressPackageStartupMessages(library(lme4))

num <- function(x) sprintf("%.17g", as.numeric(x))

# A data CSV with the listed columns as factors (levels sorted), the rest numbers.
read_data <- function(file, keys) {
  d <- read.csv(file, colClasses = "character")
  for (j in names(d)) d[[j]] <- if (j %in% keys) factor(d[[j]]) else as.numeric(d[[j]])
  d
}

tight <- lmerControl(optimizer = "nloptwrap",
                     optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-14, xtol_rel = 0,
                                    ftol_rel = 0, maxeval = 1e5),
                     check.conv.singular = "ignore", check.conv.grad = "ignore")

grid <- function(...) expand.grid(..., stringsAsFactors = FALSE)
specs <- list(
  penicillin  = list(file = "penicillin.csv", keys = c("plate", "sample"),
                     formula = diameter ~ 1 + (1 | plate) + (1 | sample),
                     grid = grid(plate = c("a", "m", "x", "new"), sample = c("A", "F", "new")),
                     g1 = "plate", g2 = "sample", x = NULL),
  pastes      = list(file = "pastes.csv", keys = c("batch", "cask", "sample"),
                     formula = strength ~ 1 + (1 | batch/cask),
                     grid = grid(batch = c("A", "J", "new"), cask = c("a", "c", "new")),
                     g1 = "batch", g2 = "cask", x = NULL),
  ratings     = list(file = "ratings.csv", keys = c("a", "b"),
                     formula = y ~ x + (x | a) + (1 | b),
                     grid = grid(a = c("a01", "a17", "a40", "new"), b = c("b01", "b30", "new"),
                                 x = c(0, 5.5, 12)),
                     g1 = "a", g2 = "b", x = "x"),
  sleep_uncor = list(file = "sleepstudy.csv", keys = "Subject",
                     formula = Reaction ~ Days + (Days || Subject),
                     grid = grid(Subject = c("308", "372", "new"), Days = c(0, 4.5, 12)),
                     g1 = "Subject", g2 = NULL, x = "Days")
)

out <- NULL
for (name in names(specs)) {
  s <- specs[[name]]
  d <- read_data(s$file, s$keys)
  nd <- s$grid
  col <- function(v, f = identity) if (is.null(v)) rep("", nrow(nd)) else f(nd[[v]])
  for (method in c("REML", "ML")) {
    m <- lmer(s$formula, data = d, REML = (method == "REML"), control = tight)
    out <- rbind(out, data.frame(fit = name, method = method,
                                 g1 = col(s$g1), g2 = col(s$g2), x = col(s$x, num),
                                 cond = num(predict(m, newdata = nd, allow.new.levels = TRUE)),
                                 pop = num(predict(m, newdata = nd, re.form = NA)),
                                 stringsAsFactors = FALSE))
  }
}
stopifnot(!any(grepl("[,\"\n]", unlist(out))))
writeLines(c(paste(names(out), collapse = ","),
             do.call(paste, c(unname(as.list(out)), sep = ","))),
           "predict_terms.ref.csv")
cat(sprintf("predict_terms.ref.csv: %d rows\n", nrow(out)))
