# make_contrast_refs.R -- reference numbers for lmm_contrast from lmerTest's
# contest (contest1D and contestMD, Satterthwaite's df) and lme4's F without
# df (ddf = none).
#
# Run:  cd test/data && Rscript make_contrast_refs.R
# Inputs (committed):  sleepstudy.csv, cake.csv
# Output (committed):  contrast.ref.csv, long format:
#   model,method,contrast,kind,value
# kinds: estimate std_error t_value df p_value (one-row contrasts, contest1D);
#        f_value num_df den_df p_value (contestMD, every contrast).
# The fits run to convergence (the tight control of make_tight_refs.R), so
# that the comparison is of the tests, not of where lme4's default run stops.
# CI does not need R: this script is only run by hand to refresh the file.
suppressMessages(library(lmerTest))

tight <- lmerControl(optimizer = "nloptwrap",
                     optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-14, xtol_rel = 0,
                                    ftol_rel = 0, maxeval = 1e5),
                     check.conv.singular = "ignore")
sleep <- read.csv("sleepstudy.csv")
names(sleep) <- c("reaction", "days", "subject")
sleep$subject <- factor(sleep$subject)
sleep$d2 <- sleep$days * sleep$days / 10
cake <- read.csv("cake.csv")
cake$recipe <- factor(cake$recipe)
cake$temperature <- factor(cake$temperature)

models <- list(
  slope = list(data = sleep, formula = reaction ~ days + (days | subject),
               contrasts = list(days = c(0, 1), both = diag(2),
                                sum = c(1, 10), repeated = rbind(c(0, 1), c(0, 2), c(1, 0)))),
  two_terms = list(data = sleep,
                   formula = reaction ~ days + d2 + (1 | subject) + (0 + days | subject),
                   contrasts = list(all = diag(3), slopes = rbind(c(0, 1, 0), c(0, 0, 1)),
                                    d2 = c(0, 0, 1))),
  cake = list(data = cake, formula = angle ~ recipe + temperature + (1 | recipe:replicate),
              contrasts = list(recipe = cbind(0, diag(2), matrix(0, 2, 5)),
                               temperature = cbind(matrix(0, 5, 3), diag(5)),
                               b_minus_c = c(0, 1, -1, 0, 0, 0, 0, 0))))

out <- data.frame()
add <- function(model, method, contrast, kind, value)
  out <<- rbind(out, data.frame(model = model, method = method, contrast = contrast,
                                kind = kind, value = sprintf("%.17g", value)))
for (name in names(models)) {
  s <- models[[name]]
  for (method in c("REML", "ML")) {
    m <- lmer(s$formula, data = s$data, REML = (method == "REML"), control = tight)
    for (cn in names(s$contrasts)) {
      L <- s$contrasts[[cn]]
      if (!is.matrix(L)) {
        r <- contest1D(m, L)
        add(name, method, cn, "estimate", r$Estimate)
        add(name, method, cn, "std_error", r$`Std. Error`)
        add(name, method, cn, "t_value", r$`t value`)
        add(name, method, cn, "df", r$df)
        add(name, method, cn, "p_value", r$`Pr(>|t|)`)
        L <- matrix(L, nrow = 1)
      }
      f <- contestMD(m, L)
      add(name, method, cn, "f_value", f$`F value`)
      add(name, method, cn, "num_df", f$NumDF)
      add(name, method, cn, "den_df", f$DenDF)
      add(name, method, cn, "p_value_f", f$`Pr(>F)`)
      add(name, method, cn, "sum_sq", f$`Sum Sq`)
      add(name, method, cn, "mean_sq", f$`Mean Sq`)
    }
  }
}
write.csv(out, "contrast.ref.csv", row.names = FALSE, quote = FALSE)
