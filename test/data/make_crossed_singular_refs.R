# make_crossed_singular_refs.R -- a crossed model whose second factor has no
# variance (a singular fit), and lme4's answer run to convergence.
#
# Run:  cd test/data && Rscript make_crossed_singular_refs.R
# Writes crossed_singular.csv (y, g1, g2; seed 7: 600 rows, g1 of 30 levels
# with sd 2, g2 of 20 levels with no effect, unit noise) and
# crossed_singular.ref.csv (method,theta1,theta2,criterion,sigma), 17 digits.
# CI never runs R.
suppressMessages(library(lme4))
RNGkind(kind = "Mersenne-Twister", normal.kind = "Inversion", sample.kind = "Rejection")
set.seed(7)
n <- 600
g1 <- sample(30, n, TRUE)
g2 <- sample(20, n, TRUE)
b1 <- rnorm(30, 0, 2)
y <- round(5 + b1[g1] + rnorm(n), 6)
d <- data.frame(y = y, g1 = sprintf("a%02d", g1), g2 = sprintf("b%02d", g2))
write.csv(d, "crossed_singular.csv", row.names = FALSE, quote = FALSE)
d <- read.csv("crossed_singular.csv")
source("formula_models.R")
rows <- character(0)
for (reml in c(TRUE, FALSE)) {
  m <- lmer(y ~ 1 + (1 | g1) + (1 | g2), d, REML = reml, control = tight_control)
  th <- getME(m, "theta")
  crit <- if (reml) m@devcomp$cmp[["REML"]] else m@devcomp$cmp[["dev"]]
  rows <- c(rows, sprintf("%s,%.17g,%.17g,%.17g,%.17g", if (reml) "REML" else "ML",
                          th[1], th[2], crit, sigma(m)))
}
writeLines(c("method,theta1,theta2,criterion,sigma", rows), "crossed_singular.ref.csv")
