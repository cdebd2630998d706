# make_glmm_polish_refs.R -- the optimum and the standard errors of
# glmer's own deviance, computed to more digits than glmer's run gives.
#
# Run:  cd test/data && Rscript make_glmm_polish_refs.R   (about a minute)
# Inputs (committed): the datasets of make_glmm_refs.R and
# make_glmm_large_levels_refs.R.
# Output (committed): glmm_polish.ref.csv, model,kind,name,value with kinds
#   beta, se (per coefficient), theta (theta1, ...), loglik.
#
# Why.  glmer's Laplace deviance takes log|L|^2 from the factor PIRLS made
# at the weights of its last-but-one iterate: once PIRLS stops (relative
# change of the penalized deviance below tolPwrss), the modes have moved by
# about sqrt(tolPwrss) since, and so the deviance glmer optimizes is off by
# up to 4e-6 where it is large (poisson_offset: -2 log L about 4,667) and
# its optimum by up to 7e-5 of a standard error (verbagg); its standard
# errors, from a finite-difference Hessian (deriv12, step 1e-4) of that
# deviance, carry the same noise (up to 0.3% here).  This script takes
# glmer's own deviance function (update(m, devFunOnly = TRUE)) with
# tolPwrss = 1e-13 and, for the Laplace fits, refreshes the weights and the
# factor at the final modes before summing resp$aic() + pp$sqrL(1) +
# pp$ldL2() (the Laplace approximation at the mode, which lmm computes),
# polishes glmer's optimum by Newton steps with numDeriv's
# Richardson-extrapolated gradient and Hessian until the step is below
# 1e-10 (or no step lowers the deviance), and reports beta, theta, the
# log-likelihood and the standard errors of glmer's vcov (the beta block of
# 2 H^-1) from that Hessian.  The adaptive-quadrature fits use glmer's
# function as it is.
suppressMessages(library(lme4))
suppressMessages(library(numDeriv))
num <- function(x) sprintf("%.17g", x)

cbpp_d <- read.csv("cbpp.csv"); cbpp_d$period <- factor(cbpp_d$period); cbpp_d$herd <- factor(cbpp_d$herd)
grouse_d <- read.csv("grouseticks.csv")
for (j in c("index", "brood", "year", "location")) grouse_d[[j]] <- factor(grouse_d[[j]])
verbagg_d <- read.csv("verbagg.csv")
verbagg_d$r2 <- verbagg_d$r2 == "t"
for (j in c("id", "item", "gender", "btype", "situ")) verbagg_d[[j]] <- factor(verbagg_d[[j]])
verbagg_d$btype <- factor(verbagg_d$btype, levels = c("curse", "scold", "shout"))
hdp_d <- read.csv("hdp.csv"); hdp_d$did <- factor(hdp_d$did)
poff_d <- read.csv("poisson_offset.csv"); poff_d$g <- factor(poff_d$g)
bslope_d <- read.csv("binary_slope.csv"); bslope_d$g <- factor(bslope_d$g)
large_d <- read.csv("poisson_large_levels.csv"); large_d$g <- factor(large_d$g)

ctl <- glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5, rhoend = 1e-12),
                    tolPwrss = 1e-13)
cb <- cbind(incidence, size - incidence) ~ period + (1 | herd)
models <- list(
  cbpp = function() glmer(cb, data = cbpp_d, family = binomial, control = ctl),
  cbpp_agq25 = function() glmer(cb, data = cbpp_d, family = binomial, nAGQ = 25, control = ctl),
  cbpp_probit = function() glmer(cb, data = cbpp_d, family = binomial(link = "probit"), control = ctl),
  cbpp_cloglog = function() glmer(cb, data = cbpp_d, family = binomial(link = "cloglog"), control = ctl),
  grouse = function() glmer(ticks ~ year + cheight + (1 | brood) + (1 | index) + (1 | location),
                            data = grouse_d, family = poisson, control = ctl),
  verbagg = function() glmer(r2 ~ anger + gender + btype + situ + (1 | id) + (1 | item),
                             data = verbagg_d, family = binomial, control = ctl),
  hdp = function() glmer(remission ~ age + il6 + crp + lengthofstay + (1 | did),
                         data = hdp_d, family = binomial, control = ctl),
  poisson_offset = function() glmer(y ~ x + offset(logexp) + (1 | g), data = poff_d,
                                    family = poisson, control = ctl),
  poisson_offset_agq10 = function() glmer(y ~ x + offset(logexp) + (1 | g), data = poff_d,
                                          family = poisson, nAGQ = 10, control = ctl),
  binary_slope = function() glmer(y ~ x + t + (1 + t | g), data = bslope_d, family = binomial,
                                  control = ctl),
  large_levels = function() glmer(y ~ x + (1 | g), data = large_d, family = poisson, control = ctl))

out <- data.frame()
for (name in names(models)) {
  m <- models[[name]]()
  dd0 <- update(m, devFunOnly = TRUE)
  rho <- environment(dd0)
  dd <- if (grepl("agq", name)) dd0 else function(x) {
    dd0(x)
    rho$resp$updateWts()
    rho$pp$updateXwts(rho$resp$sqrtXwt)
    rho$pp$updateDecomp()
    rho$resp$aic() + rho$pp$sqrL(1) + rho$pp$ldL2()
  }
  nt <- length(getME(m, "theta"))
  x <- c(getME(m, "theta"), fixef(m))
  f0 <- -2 * as.numeric(logLik(m))
  for (it in 1:20) {
    g <- grad(dd, x)
    H <- hessian(dd, x)
    step <- solve(H, g)
    x1 <- x - step
    if (dd(x1) > dd(x) + 1e-9) break
    x <- x1
    if (max(abs(step)) < 1e-10) break
  }
  H <- hessian(dd, x)
  f <- dd(x)
  V <- 2 * solve(H)
  se <- sqrt(diag(V))[-seq_len(nt)]
  beta <- x[-seq_len(nt)]
  cat(sprintf("%-22s loglik %.10f (glmer's run %.10f), %d Newton steps, last step %.2g\n",
              name, -f / 2, -f0 / 2, it, max(abs(step))))
  out <- rbind(out,
               data.frame(model = name, kind = "beta", name = names(fixef(m)), value = num(beta)),
               data.frame(model = name, kind = "se", name = names(fixef(m)), value = num(se)),
               data.frame(model = name, kind = "theta", name = paste0("theta", seq_len(nt)),
                          value = num(x[seq_len(nt)])),
               data.frame(model = name, kind = "loglik", name = "", value = num(-f / 2)))
}
write.csv(out, "glmm_polish.ref.csv", row.names = FALSE, quote = FALSE)
