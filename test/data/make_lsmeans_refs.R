# make_lsmeans_refs.R -- reference numbers for lmm_ls_means(m, which, options)
# from lmerTest 3.1's ls_means(m, which, pairwise): each cell's least-squares
# mean (or each pair's difference) with its standard error, Satterthwaite df,
# t, p and 95% interval.
#
# Run:  cd test/data && Rscript make_lsmeans_refs.R
# Inputs (committed): cake.csv, machines.csv, oats.csv (make_anova_refs.R)
# Output (committed): lsmeans.ref.csv (Satterthwaite, REML and ML) and
# lsmeans_kr.ref.csv (Kenward-Roger, REML), long format
# model,method,term,pairwise,level,kind,value with kinds estimate std_error
# df t_value p_value conf_low conf_high.
# Models: cake's recipe * temperature (balanced; and with every 7th row
# dropped, an unbalanced two-factor interaction), recipe nested in
# temperature (the interaction codes recipe by every level), Machines, Oats
# (nitro * variety: a numeric covariate next to a factor, held at its mean;
# without an intercept; variety:nitro + block, where nitro has no column of
# its own), and cake's recipe + temp (a numeric covariate), REML and ML.
# Character columns are made factors, as lmerTest's ls_means needs.  The
# fits run to convergence (the control of make_tight_refs.R).
# CI does not need R: this script is only run by hand to refresh the file.
suppressMessages(library(lmerTest))

tight <- lmerControl(optimizer = "nloptwrap",
                     optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-14, xtol_rel = 0,
                                    ftol_rel = 0, maxeval = 1e5),
                     check.conv.singular = "ignore")
cake <- read.csv("cake.csv")
cake$recipe <- factor(cake$recipe)
cake$temperature <- factor(cake$temperature)
machines <- read.csv("machines.csv")
machines$machine <- factor(machines$machine)
oats <- read.csv("oats.csv")
oats$variety <- factor(oats$variety)
oats$block <- factor(oats$block)
cake_unbal <- cake[seq_len(nrow(cake)) %% 7 != 0, ]

models <- list(
  cake = list(cake, angle ~ recipe * temperature + (1 | recipe:replicate)),
  cake_unbalanced = list(cake_unbal, angle ~ recipe * temperature + (1 | recipe:replicate)),
  cake_nested = list(cake_unbal, angle ~ temperature + recipe:temperature + (1 | recipe:replicate)),
  cake_temp = list(cake, angle ~ recipe + temp + (1 | recipe:replicate)),
  machines = list(machines, score ~ machine + (1 | worker) + (1 | worker:machine)),
  oats = list(oats, yield ~ nitro * variety + (1 | block) + (1 | block:variety)),
  oats_no_intercept = list(oats, yield ~ 0 + variety + nitro + (1 | block) + (1 | block:variety)),
  oats_slope_factor = list(oats, yield ~ variety:nitro + block + (1 | block:variety)))

out <- data.frame()
for (name in names(models)) {
  for (method in c("REML", "ML")) {
    m <- lmer(models[[name]][[2]], data = models[[name]][[1]], REML = (method == "REML"),
              control = tight)
    for (pairwise in c(FALSE, TRUE)) {
      for (term in names(lmerTest:::lsmeans_contrasts(m))) {
        a <- ls_means(m, which = term, pairwise = pairwise)
        for (level in rownames(a)) {
          vals <- c(estimate = a[level, "Estimate"], std_error = a[level, "Std. Error"],
                    df = a[level, "df"], t_value = a[level, "t value"],
                    p_value = a[level, "Pr(>|t|)"], conf_low = a[level, "lower"],
                    conf_high = a[level, "upper"])
          for (k in names(vals))
            out <- rbind(out, data.frame(model = name, method = method, term = term,
                                         pairwise = pairwise, level = level, kind = k,
                                         value = sprintf("%.17g", vals[[k]])))
        }
      }
    }
  }
}
write.csv(out, "lsmeans.ref.csv", row.names = FALSE, quote = FALSE)

# The same by Kenward-Roger (pbkrtest's adjusted covariance and df), REML
# fits only, as lmerTest allows: lsmeans_kr.ref.csv, the same columns.
out <- data.frame()
for (name in names(models)) {
  m <- lmer(models[[name]][[2]], data = models[[name]][[1]], REML = TRUE, control = tight)
  for (pairwise in c(FALSE, TRUE)) {
    for (term in names(lmerTest:::lsmeans_contrasts(m))) {
      a <- ls_means(m, which = term, pairwise = pairwise, ddf = "Kenward-Roger")
      for (level in rownames(a)) {
        vals <- c(estimate = a[level, "Estimate"], std_error = a[level, "Std. Error"],
                  df = a[level, "df"], t_value = a[level, "t value"],
                  p_value = a[level, "Pr(>|t|)"], conf_low = a[level, "lower"],
                  conf_high = a[level, "upper"])
        for (k in names(vals))
          out <- rbind(out, data.frame(model = name, method = "REML", term = term,
                                       pairwise = pairwise, level = level, kind = k,
                                       value = sprintf("%.17g", vals[[k]])))
      }
    }
  }
}
write.csv(out, "lsmeans_kr.ref.csv", row.names = FALSE, quote = FALSE)
