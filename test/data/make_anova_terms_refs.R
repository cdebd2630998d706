# make_anova_terms_refs.R -- lme4's anova() for nested models with several
# grouping factors, fitted by ML (REML = FALSE) to convergence.
#
# Run:  cd test/data && Rscript make_anova_terms_refs.R
# Reads penicillin.csv and pastes.csv (make_formula_refs.R); writes
# anova_terms.ref.csv with header test,row,npar,aic,bic,loglik,deviance,chisq,df,p
# (row 1 the smaller model; chisq, df and p empty on row 1), 17 digits.
#   penicillin: diameter ~ 1 + (1 | plate)  vs  diameter ~ 1 + (1 | plate) + (1 | sample)
#   pastes:     strength ~ 1 + (1 | batch)  vs  strength ~ 1 + (1 | batch/cask)
# CI never runs R.
suppressPackageStartupMessages(library(lme4))
source("formula_models.R")
num <- function(x) ifelse(is.na(x), "", sprintf("%.17g", x))
rows <- character(0)
add <- function(name, a, b) {
  t <- anova(a, b, refit = FALSE)
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
writeLines(c("test,row,npar,aic,bic,loglik,deviance,chisq,df,p", rows), "anova_terms.ref.csv")
