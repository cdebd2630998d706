# make_ls_means_refs.R -- reference numbers for lmm_ls_means from lmerTest
# 3.1's ls_means(m, which, pairwise): least-squares means of every factor
# term, and their pairwise differences, with Satterthwaite's df and 95%
# intervals.
#
# Run:  cd test/data && Rscript make_ls_means_refs.R
# Inputs (committed): cake.csv, machines.csv, oats.csv
# Output (committed): ls_means.ref.csv, long format
#   model,method,term,pairwise,level,kind,value
# kinds: estimate std_error df t_value p_value conf_low conf_high; pairwise
# differences of the one-factor terms only.
# Models as make_anova_refs.R (cake, cake_unbalanced, machines, oats), fits
# run to convergence.  CI does not need R: run by hand to refresh the file.
suppressMessages(library(lmerTest))

tight <- lmerControl(optimizer = "nloptwrap",
                     optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-14, xtol_rel = 0,
                                    ftol_rel = 0, maxeval = 1e5),
                     check.conv.singular = "ignore")
cake <- read.csv("cake.csv")
cake$recipe <- factor(cake$recipe)
cake$temperature <- factor(cake$temperature)
cake_unbal <- cake[seq_len(nrow(cake)) %% 7 != 0, ]
machines <- read.csv("machines.csv")
machines$machine <- factor(machines$machine)
oats <- read.csv("oats.csv")
oats$variety <- factor(oats$variety)

models <- list(
  cake = list(cake, angle ~ recipe * temperature + (1 | recipe:replicate)),
  cake_unbalanced = list(cake_unbal, angle ~ recipe * temperature + (1 | recipe:replicate)),
  machines = list(machines, score ~ machine + (1 | worker) + (1 | worker:machine)),
  oats = list(oats, yield ~ nitro * variety + (1 | block) + (1 | block:variety)))

out <- data.frame()
for (name in names(models)) {
  for (method in c("REML", "ML")) {
    m <- lmer(models[[name]][[2]], data = models[[name]][[1]], REML = (method == "REML"),
              control = tight)
    for (pairwise in c(FALSE, TRUE)) {
      # pairwise differences of the main effects only, to keep the file small
      which <- if (pairwise) intersect(attr(terms(m), "term.labels"), c("recipe", "temperature", "machine", "variety")) else NULL
      lm <- ls_means(m, which = which, pairwise = pairwise)
      terms <- sapply(attr(lm, "hypotheses"), nrow)
      term_of_row <- rep(names(terms), terms)
      for (i in seq_len(nrow(lm))) {
        vals <- c(estimate = lm[i, "Estimate"], std_error = lm[i, "Std. Error"],
                  df = lm[i, "df"], t_value = lm[i, "t value"], p_value = lm[i, "Pr(>|t|)"],
                  conf_low = lm[i, "lower"], conf_high = lm[i, "upper"])
        for (k in names(vals))
          out <- rbind(out, data.frame(model = name, method = method, term = term_of_row[i],
                                       pairwise = pairwise, level = rownames(lm)[i], kind = k,
                                       value = sprintf("%.17g", vals[[k]])))
      }
    }
  }
}
write.csv(out, "ls_means.ref.csv", row.names = FALSE, quote = FALSE)
