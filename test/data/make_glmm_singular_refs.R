# make_glmm_singular_refs.R -- a binary GLMM whose random-intercept variance
# is estimated at zero (a singular fit), for lmm's GLMM tests.
#
# Run:  cd test/data && Rscript make_glmm_singular_refs.R
# Output (committed): glmm_singular.csv (g, x, y: 30 groups x 20 rows, no
# group effect in the simulation, set.seed(25)) and glmm_singular.ref.csv
# (model,kind,name,value: beta, se (summary(m), which for a singular fit is
# vcov's fallback), theta, loglik, loglik_default) from glmer with the tight
# control of make_glmm_refs.R.
suppressMessages(library(lme4))
num <- function(x) sprintf("%.17g", x)
set.seed(25)
g <- rep(1:30, each = 20)
x <- rnorm(600)
y <- rbinom(600, 1, plogis(-0.2 + 0.5 * x))
d <- data.frame(g = g, x = x, y = y)
write.csv(data.frame(g = g, x = num(x), y = y), "glmm_singular.csv", row.names = FALSE, quote = FALSE)
d <- read.csv("glmm_singular.csv")
ctl <- glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5, rhoend = 1e-12), tolPwrss = 1e-12)
m <- suppressWarnings(glmer(y ~ x + (1 | g), data = d, family = binomial, control = ctl))
m0 <- suppressWarnings(glmer(y ~ x + (1 | g), data = d, family = binomial))
cf <- summary(m)$coefficients
out <- rbind(
  data.frame(model = "singular", kind = "beta", name = rownames(cf), value = num(cf[, 1])),
  data.frame(model = "singular", kind = "se", name = rownames(cf), value = num(cf[, 2])),
  data.frame(model = "singular", kind = "theta", name = "theta1", value = num(getME(m, "theta"))),
  data.frame(model = "singular", kind = "loglik", name = "", value = num(as.numeric(logLik(m)))),
  data.frame(model = "singular", kind = "loglik_default", name = "", value = num(as.numeric(logLik(m0)))))
write.csv(out, "glmm_singular.ref.csv", row.names = FALSE, quote = FALSE)
print(out)
cat("isSingular:", isSingular(m), "\n")
