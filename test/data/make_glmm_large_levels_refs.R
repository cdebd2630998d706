# make_glmm_large_levels_refs.R -- reference numbers for a Poisson GLMM whose
# levels hold hundreds of rows each (12 groups x 400 rows, intercept SD 0.15):
# the per-level kernel's first-order warm start from theta = 0 overflowed
# exp() there, and L-BFGS from theta = 1 crept towards the small theta.
#
# Run:  cd test/data && Rscript make_glmm_large_levels_refs.R   (seconds)
# Outputs (committed):
#   poisson_large_levels.csv   g, x, y (17 significant digits)
#   glmm_large_levels.ref.csv  model,kind,name,value as glmm.ref.csv: beta, se
#                              per coefficient, theta1, sd, loglik, from glmer
#                              at tight tolerances (Laplace), and loglik_default
#                              from glmer's default run
suppressMessages(library(lme4))
set.seed(26)
G <- 12; m <- 400
d <- data.frame(g = rep(seq_len(G), each = m), x = rnorm(G * m))
b <- rnorm(G, 0, 0.15)
d$y <- rpois(nrow(d), exp(1.3 + 0.16 * d$x + b[d$g]))
d[] <- lapply(d, function(v) trimws(format(v, digits = 17)))
write.csv(d, "poisson_large_levels.csv", row.names = FALSE, quote = FALSE)
d <- read.csv("poisson_large_levels.csv")
d$g <- factor(d$g)
tight <- glmerControl(optimizer = "bobyqa", optCtrl = list(rhobeg = 2e-3, rhoend = 1e-12, maxfun = 1e5),
					  tolPwrss = 1e-12)
fit <- glmer(y ~ x + (1 | g), d, family = poisson, control = tight)
def <- glmer(y ~ x + (1 | g), d, family = poisson)
cf <- coef(summary(fit))
out <- rbind(
	data.frame(model = "large_levels", kind = "beta", name = rownames(cf), value = cf[, 1]),
	data.frame(model = "large_levels", kind = "se", name = rownames(cf), value = cf[, 2]),
	data.frame(model = "large_levels", kind = "theta", name = "theta1", value = getME(fit, "theta")[[1]]),
	data.frame(model = "large_levels", kind = "sd", name = "g:(Intercept)", value = as.data.frame(VarCorr(fit))$sdcor[1]),
	data.frame(model = "large_levels", kind = "loglik", name = "", value = as.numeric(logLik(fit))),
	data.frame(model = "large_levels", kind = "loglik_default", name = "", value = as.numeric(logLik(def))))
out$value <- trimws(format(out$value, digits = 17))
write.csv(out, "glmm_large_levels.ref.csv", row.names = FALSE, quote = FALSE)
