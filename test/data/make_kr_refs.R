# make_kr_refs.R -- reference numbers for Kenward-Roger in lmm: pbkrtest's
# vcovAdj (adjusted covariance of the fixed effects) and Lb_ddf (KR df of a
# contrast), and lmerTest's ddf = "Kenward-Roger" in summary (contest1D on
# every coefficient), contest (contest1D, contestMD) and anova (types 3, 2
# and 1).
#
# Run:  cd test/data && Rscript make_kr_refs.R
# Inputs (committed): sleepstudy.csv, cake.csv, machines.csv, oats.csv,
# penicillin.csv, ratings.csv
# Outputs (committed), long format, every number with 17 digits:
#   kr_fixef.ref.csv     model,term,kind,value   kinds estimate std_error df
#                        t_value p_value conf_low conf_high (lmerTest's
#                        summary / contest1D with confint), and vcov_adj.<term2>
#                        (every entry of pbkrtest's vcovAdj)
#   kr_contrast.ref.csv  model,contrast,kind,value   contest1D (one-row
#                        contrasts): estimate std_error t_value df p_value;
#                        contestMD (every contrast): sum_sq mean_sq num_df
#                        den_df f_value p_value_f
#   kr_anova.ref.csv     model,type,term,kind,value   lmerTest's anova(m, type,
#                        ddf = "Kenward-Roger")
# Models (REML, which Kenward-Roger requires): sleepstudy with a correlated
# random slope, sleepstudy with two uncorrelated terms of one factor, cake's
# recipe * temperature (balanced and with every 7th row dropped), Machines
# (crossed worker and worker:machine), Oats (a numeric covariate times a
# factor, crossed block and block:variety), Penicillin (crossed plate and
# sample), ratings (a correlated random slope crossed with an intercept).  The fits run to convergence (the control of make_tight_refs.R).
# CI does not need R: this script is only run by hand to refresh the files.
suppressMessages(library(lmerTest))
suppressMessages(library(pbkrtest))

tight <- lmerControl(optimizer = "nloptwrap",
                     optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-14, xtol_rel = 0,
                                    ftol_rel = 0, maxeval = 1e5),
                     check.conv.singular = "ignore")
num <- function(x) sprintf("%.17g", x)

sleep <- read.csv("sleepstudy.csv")
names(sleep) <- c("reaction", "days", "subject")
sleep$subject <- factor(sleep$subject)
cake <- read.csv("cake.csv")
cake$recipe <- factor(cake$recipe)
cake$temperature <- factor(cake$temperature)
cake_unbal <- cake[seq_len(nrow(cake)) %% 7 != 0, ]
machines <- read.csv("machines.csv")
machines$machine <- factor(machines$machine)
oats <- read.csv("oats.csv")
oats$variety <- factor(oats$variety)
penicillin <- read.csv("penicillin.csv")
ratings <- read.csv("ratings.csv")

zeros <- function(r, c) matrix(0, r, c)
models <- list(
  sleep_slope = list(sleep, reaction ~ days + (days | subject),
                     list(days = c(0, 1), both = diag(2), sum = c(1, 10))),
  sleep_two_terms = list(sleep, reaction ~ days + (1 | subject) + (0 + days | subject),
                         list(days = c(0, 1), both = diag(2))),
  cake = list(cake, angle ~ recipe * temperature + (1 | recipe:replicate),
              list(recipe = cbind(0, diag(2), zeros(2, 15)),
                   b_minus_c = c(0, 1, -1, rep(0, 15)),
                   temperature = cbind(zeros(5, 3), diag(5), zeros(5, 10)))),
  cake_unbalanced = list(cake_unbal, angle ~ recipe * temperature + (1 | recipe:replicate),
                         list(b_minus_c = c(0, 1, -1, rep(0, 15)),
                              recipe = cbind(0, diag(2), zeros(2, 15)))),
  machines = list(machines, score ~ machine + (1 | worker) + (1 | worker:machine),
                  list(b_minus_c = c(0, 1, -1), machine = cbind(0, diag(2)))),
  oats = list(oats, yield ~ nitro * variety + (1 | block) + (1 | block:variety),
              list(nitro = c(0, 1, 0, 0, 0, 0),
                   interaction = cbind(zeros(2, 4), diag(2)))),
  penicillin = list(penicillin, diameter ~ 1 + (1 | plate) + (1 | sample),
                    list(intercept = 1)),
  ratings = list(ratings, y ~ x + (x | a) + (1 | b), list(x = c(0, 1), both = diag(2))))

fixef_out <- data.frame()
contrast_out <- data.frame()
anova_out <- data.frame()
for (name in names(models)) {
  s <- models[[name]]
  m <- lmer(s[[2]], data = s[[1]], REML = TRUE, control = tight)
  va <- as.matrix(vcovAdj(m))
  terms <- names(fixef(m))
  for (k in seq_along(terms)) {
    L <- as.numeric(seq_along(terms) == k)
    r <- contest1D(m, L, ddf = "Kenward-Roger", confint = TRUE)
    df_pbkr <- Lb_ddf(L, vcov(m), vcovAdj(m))
    stopifnot(abs(r$df - df_pbkr) <= 1e-12 * df_pbkr)
    vals <- c(estimate = r$Estimate, std_error = r$`Std. Error`, df = r$df,
              t_value = r$`t value`, p_value = r$`Pr(>|t|)`, conf_low = r$lower,
              conf_high = r$upper)
    for (j in seq_along(terms)) vals[paste0("vcov_adj.", terms[j])] <- va[k, j]
    fixef_out <- rbind(fixef_out, data.frame(model = name, term = terms[k], kind = names(vals),
                                             value = num(vals)))
  }
  for (cn in names(s[[3]])) {
    L <- s[[3]][[cn]]
    add <- function(kind, value)
      contrast_out <<- rbind(contrast_out, data.frame(model = name, contrast = cn, kind = kind,
                                                      value = num(value)))
    if (!is.matrix(L)) {
      r <- contest1D(m, L, ddf = "Kenward-Roger")
      add("estimate", r$Estimate)
      add("std_error", r$`Std. Error`)
      add("t_value", r$`t value`)
      add("df", r$df)
      add("p_value", r$`Pr(>|t|)`)
      L <- matrix(L, nrow = 1)
    }
    f <- contestMD(m, L, ddf = "Kenward-Roger")
    add("sum_sq", f$`Sum Sq`)
    add("mean_sq", f$`Mean Sq`)
    add("num_df", f$NumDF)
    add("den_df", f$DenDF)
    add("f_value", f$`F value`)
    add("p_value_f", f$`Pr(>F)`)
  }
  if (length(terms) > 1) {
    for (type in c("3", "2", "1")) {
      a <- anova(m, type = as.integer(type), ddf = "Kenward-Roger")
      for (term in rownames(a)) {
        vals <- c(sum_sq = a[term, "Sum Sq"], mean_sq = a[term, "Mean Sq"],
                  num_df = a[term, "NumDF"], den_df = a[term, "DenDF"],
                  f_value = a[term, "F value"], p_value = a[term, "Pr(>F)"])
        anova_out <- rbind(anova_out, data.frame(model = name, type = type, term = term,
                                                 kind = names(vals), value = num(vals)))
      }
    }
  }
}
write.csv(fixef_out, "kr_fixef.ref.csv", row.names = FALSE, quote = FALSE)
write.csv(contrast_out, "kr_contrast.ref.csv", row.names = FALSE, quote = FALSE)
write.csv(anova_out, "kr_anova.ref.csv", row.names = FALSE, quote = FALSE)
