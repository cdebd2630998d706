# make_anova_terms_refs.R -- lme4's anova() for nested models with several
# grouping factors: fitted by ML (REML = FALSE) to convergence and compared
# as they are (refit = FALSE), and fitted by REML and compared after lme4's
# own ML refits (anova's default refit = TRUE).
#
# Run:  cd test/data && Rscript make_anova_terms_refs.R
# Reads penicillin.csv and pastes.csv (make_formula_refs.R); writes
# anova_terms.ref.csv with header test,row,npar,aic,bic,loglik,deviance,chisq,df,p
# (row 1 the smaller model; chisq, df and p empty on row 1), 17 digits.
#   penicillin: diameter ~ 1 + (1 | plate)  vs  diameter ~ 1 + (1 | plate) + (1 | sample)
#   pastes:     strength ~ 1 + (1 | batch)  vs  strength ~ 1 + (1 | batch/cask)
# and the same pairs fitted by REML (tests penicillin_reml, pastes_reml), with
#   ratings_reml: y ~ x + (1 | a) + (1 | b)  vs  y ~ x + (x | a) + (1 | b)
# (crossed, with a random slope; REML, refitted by ML).
# CI never runs R.
suppressPackageStartupMessages(library(lme4))
source("formula_models.R")
num <- function(x) ifelse(is.na(x), "", sprintf("%.17g", x))
rows <- character(0)
add <- function(name, a, b, refit = FALSE) {
  t <- anova(a, b, refit = refit)
  for (r in 1:2)
    rows <<- c(rows, paste(name, r, t$npar[r], num(t$AIC[r]), num(t$BIC[r]), num(t$logLik[r]),
                           num(t$deviance[r]), num(t$Chisq[r]), num(t$Df[r]), num(t[["Pr(>Chisq)"]][r]),
                           sep = ","))
}
pen <- read.csv("penicillin.csv", colClasses = c("numeric", "character", "character"))
add("penicillin",
    lmer(diameter ~ 1 + (1 | plate), pen, REML = FALSE, control = tight_control),
    lmer(diameter ~ 1 + (1 | plate) + (1 | sample), pen, REML = FALSE, control = tight_control))
pas <- read.csv("pastes.csv", colClasses = c("numeric", "character", "character", "character"))
add("pastes",
    lmer(strength ~ 1 + (1 | batch), pas, REML = FALSE, control = tight_control),
    lmer(strength ~ 1 + (1 | batch/cask), pas, REML = FALSE, control = tight_control))
add("penicillin_reml",
    lmer(diameter ~ 1 + (1 | plate), pen, REML = TRUE, control = tight_control),
    lmer(diameter ~ 1 + (1 | plate) + (1 | sample), pen, REML = TRUE, control = tight_control),
    refit = TRUE)
add("pastes_reml",
    lmer(strength ~ 1 + (1 | batch), pas, REML = TRUE, control = tight_control),
    lmer(strength ~ 1 + (1 | batch/cask), pas, REML = TRUE, control = tight_control),
    refit = TRUE)
rat <- read_data("ratings.csv", c("a", "b"))
add("ratings_reml",
    lmer(y ~ x + (1 | a) + (1 | b), rat, REML = TRUE, control = tight_control),
    lmer(y ~ x + (x | a) + (1 | b), rat, REML = TRUE, control = tight_control),
    refit = TRUE)
writeLines(c("test,row,npar,aic,bic,loglik,deviance,chisq,df,p", rows), "anova_terms.ref.csv")
