# make_anova_refs.R -- reference numbers for lmm_anova(m, options) from
# lmerTest 3.1's anova(m, type, ddf): types 3 (the default), 2 and 1 with
# Satterthwaite's df, and lme4's F without df (ddf = "lme4", lmm's ddf=none).
#
# Run:  cd test/data && Rscript make_anova_refs.R
# Inputs (committed): cake.csv; writes machines.csv and oats.csv (from nlme)
# Output (committed): anova.ref.csv, long format model,method,type,term,kind,value
# with kinds sum_sq mean_sq num_df den_df f_value p_value.
# Models: cake with recipe * temperature (balanced), the same with cells
# unbalanced (every 7th row dropped), recipe nested in temperature
# (temperature + recipe:temperature, where the interaction codes temperature
# by every level, unbalanced), the same without an intercept, Machines
# (score ~ Machine, crossed Worker terms), Oats (yield ~ nitro * Variety, a
# numeric covariate next to a factor; nitro + nitro:variety, where R marks
# nitro 2 in the interaction; without an intercept; variety:nitro + block,
# which lmerTest counts as contained in block).  The fits run to
# convergence (the control of make_tight_refs.R).
# CI does not need R: this script is only run by hand to refresh the file.
suppressMessages(library(lmerTest))
data(Machines, package = "nlme")
data(Oats, package = "nlme")

tight <- lmerControl(optimizer = "nloptwrap",
                     optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-14, xtol_rel = 0,
                                    ftol_rel = 0, maxeval = 1e5),
                     check.conv.singular = "ignore")
cake <- read.csv("cake.csv")
cake$recipe <- factor(cake$recipe)
cake$temperature <- factor(cake$temperature)
machines <- data.frame(score = Machines$score, machine = as.character(Machines$Machine),
                       worker = as.character(Machines$Worker))
write.csv(machines, "machines.csv", row.names = FALSE, quote = FALSE)
oats <- data.frame(yield = Oats$yield, nitro = Oats$nitro, variety = as.character(Oats$Variety),
                   block = as.character(Oats$Block))
write.csv(oats, "oats.csv", row.names = FALSE, quote = FALSE)
machines$machine <- factor(machines$machine)
oats$variety <- factor(oats$variety)
cake_unbal <- cake[seq_len(nrow(cake)) %% 7 != 0, ]

models <- list(
  cake = list(cake, angle ~ recipe * temperature + (1 | recipe:replicate)),
  cake_unbalanced = list(cake_unbal, angle ~ recipe * temperature + (1 | recipe:replicate)),
  cake_nested = list(cake_unbal, angle ~ temperature + recipe:temperature + (1 | recipe:replicate)),
  cake_no_intercept = list(cake_unbal, angle ~ 0 + recipe * temperature + (1 | recipe:replicate)),
  machines = list(machines, score ~ machine + (1 | worker) + (1 | worker:machine)),
  oats = list(oats, yield ~ nitro * variety + (1 | block) + (1 | block:variety)),
  oats_slopes = list(oats, yield ~ nitro + nitro:variety + (1 | block) + (1 | block:variety)),
  oats_no_intercept = list(oats, yield ~ 0 + variety + nitro + (1 | block) + (1 | block:variety)),
  oats_slope_factor = list(oats, yield ~ variety:nitro + block + (1 | block:variety)))

out <- data.frame()
for (name in names(models)) {
  for (method in c("REML", "ML")) {
    m <- lmer(models[[name]][[2]], data = models[[name]][[1]], REML = (method == "REML"),
              control = tight)
    for (type in c("3", "2", "1", "none")) {
      a <- if (type == "none") anova(m, ddf = "lme4") else anova(m, type = as.integer(type))
      for (term in rownames(a)) {
        vals <- c(sum_sq = a[term, "Sum Sq"], mean_sq = a[term, "Mean Sq"],
                  num_df = if (type == "none") a[term, "npar"] else a[term, "NumDF"],
                  den_df = if (type == "none") NA else a[term, "DenDF"],
                  f_value = a[term, "F value"],
                  p_value = if (type == "none") NA else a[term, "Pr(>F)"])
        for (k in names(vals))
          out <- rbind(out, data.frame(model = name, method = method, type = type,
                                       term = term, kind = k,
                                       value = ifelse(is.na(vals[[k]]), "", sprintf("%.17g", vals[[k]]))))
      }
    }
  }
}
write.csv(out, "anova.ref.csv", row.names = FALSE, quote = FALSE)
