# formula_models.R -- shared by the make_*_refs.R scripts of the formula tests:
# how a data CSV is read back, the five several-term models, and the "tight"
# lme4 control (BOBYQA run to convergence).  Sourced; writes nothing.

# Read a data CSV back: listed columns become factors (levels sorted, numerically
# for all-integer labels), the others numbers.
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

tight_control <- lmerControl(optimizer = "nloptwrap",
                             optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-14, xtol_rel = 0,
                                            ftol_rel = 0, maxeval = 1e5),
                             check.conv.singular = "ignore", check.conv.grad = "ignore")
