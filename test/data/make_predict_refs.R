# make_predict_refs.R -- lme4's predictions on new rows, for the lmm scoring tests.
#
# Run:  cd test/data && Rscript make_predict_refs.R
#
# Refits the models of make_tight_refs.R (lme4 run to convergence, which is
# where lmm ends) and predicts a grid of rows: levels the model saw and one it
# never saw, at fixed-effect (and random-slope) values inside and outside the
# data.  Writes predict_new.ref.csv with columns
#   fit, method, g, x1, x2, cond, pop
# where cond = predict(m, newdata, allow.new.levels = TRUE) (a new level gets
# the population prediction) and pop = predict(m, newdata, re.form = NA).
# x1 is Days for the sleepstudy fits; x1 and x2 are empty for Dyestuff.

suppressPackageStartupMessages(library(lme4))

num <- function(x) sprintf("%.17g", as.numeric(x))

read_data <- function(file, key) {
  d <- read.csv(file, colClasses = "character")
  for (j in names(d)) d[[j]] <- if (j == key) factor(d[[j]]) else as.numeric(d[[j]])
  d
}

tight <- lmerControl(optimizer = "nloptwrap",
                     optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-14, xtol_rel = 0,
                                    ftol_rel = 0, maxeval = 1e5),
                     check.conv.singular = "ignore", check.conv.grad = "ignore")

sleep_grid <- expand.grid(Subject = c("308", "335", "372", "new"), Days = c(0, 2.5, 9, 12),
                          stringsAsFactors = FALSE)
specs <- list(
  dyestuff    = list(file = "dyestuff.csv", key = "Batch", formula = Yield ~ 1 + (1 | Batch),
                     grid = data.frame(Batch = c("A", "F", "new"), stringsAsFactors = FALSE),
                     g = "Batch", x1 = NULL, x2 = NULL),
  sleep_int   = list(file = "sleepstudy.csv", key = "Subject", formula = Reaction ~ Days + (1 | Subject),
                     grid = sleep_grid, g = "Subject", x1 = "Days", x2 = NULL),
  sleep_slope = list(file = "sleepstudy.csv", key = "Subject", formula = Reaction ~ Days + (Days | Subject),
                     grid = sleep_grid, g = "Subject", x1 = "Days", x2 = NULL),
  unbalanced  = list(file = "unbalanced.csv", key = "g", formula = y ~ x1 + x2 + (1 + x1 + x2 | g),
                     grid = expand.grid(g = c("g01", "g05", "g20", "g40", "new"),
                                        x1 = c(0, -1.5, 0.7), x2 = c(0, 3, 10),
                                        stringsAsFactors = FALSE),
                     g = "g", x1 = "x1", x2 = "x2")
)

out <- NULL
for (name in names(specs)) {
  s <- specs[[name]]
  d <- read_data(s$file, s$key)
  nd <- s$grid
  col <- function(v) if (is.null(v)) rep("", nrow(nd)) else num(nd[[v]])
  for (method in c("REML", "ML")) {
    m <- lmer(s$formula, data = d, REML = (method == "REML"), control = tight)
    out <- rbind(out, data.frame(fit = name, method = method, g = nd[[s$g]],
                                 x1 = col(s$x1), x2 = col(s$x2),
                                 cond = num(predict(m, newdata = nd, allow.new.levels = TRUE)),
                                 pop = num(predict(m, newdata = nd, re.form = NA)),
                                 stringsAsFactors = FALSE))
  }
}
writeLines(c(paste(names(out), collapse = ","),
             do.call(paste, c(unname(as.list(out)), sep = ","))),
           "predict_new.ref.csv")
