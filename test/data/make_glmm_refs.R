# make_glmm_refs.R -- HEADER PLACEHOLDER
suppressPackageStartupMessages(library(lme4))

num <- function(x) sprintf("%.17g", as.numeric(x))

## ---------------------------------------------------------------- datasets
# Every column is written with 17 significant digits (numbers), its level
# label (factors) or t/f (booleans), and read back; the fits use what was read
# back, so the files are exactly the data R fitted.
write_data <- function(d, file) {
  out <- d
  for (j in names(d)) {
    x <- d[[j]]
    out[[j]] <- if (is.factor(x)) as.character(x)
                else if (is.logical(x)) ifelse(x, "t", "f")
                else num(x)
  }
  write.csv(out, file, row.names = FALSE, quote = FALSE)
}
read_data <- function(file, like) {
  d <- read.csv(file, colClasses = "character")
  stopifnot(identical(names(d), names(like)), nrow(d) == nrow(like))
  for (j in names(d)) {
    x <- like[[j]]
    d[[j]] <- if (is.factor(x)) factor(d[[j]], levels = levels(x))
              else if (is.logical(x)) d[[j]] == "t"
              else as.numeric(d[[j]])
    stopifnot(identical(as.vector(d[[j]]), as.vector(if (is.integer(x)) as.numeric(x) else x)))
  }
  d
}
save_data <- function(d, file) {
  write_data(d, file)
  read_data(file, d)
}

cbpp_d <- with(lme4::cbpp, data.frame(herd = herd, incidence = incidence, size = size,
                                      period = period, failures = size - incidence,
                                      prop = incidence / size))
cbpp_d <- save_data(cbpp_d, "cbpp.csv")

grouse_d <- with(lme4::grouseticks,
                 data.frame(index = INDEX, ticks = TICKS, brood = BROOD, height = HEIGHT,
                            cheight = as.vector(scale(HEIGHT)), year = YEAR,
                            location = LOCATION))
grouse_d <- save_data(grouse_d, "grouseticks.csv")

verbagg_d <- with(lme4::VerbAgg, data.frame(id = id, item = item, anger = Anger,
                                            gender = Gender, btype = btype, situ = situ,
                                            r2 = r2 == "Y"))
verbagg_d <- save_data(verbagg_d, "verbagg.csv")

# hdp: 407 doctors, 8525 patients; every doctor has at least one patient and
# the rest are spread by a multinomial with gamma-distributed weights.
set.seed(21)
n_doc <- 407
n_pat <- 8525
per_doc <- 1 + as.vector(rmultinom(1, n_pat - n_doc, prob = rgamma(n_doc, shape = 2)))
did <- rep(seq_len(n_doc), per_doc)
age <- rnorm(n_pat, 50, 10)
il6 <- rgamma(n_pat, shape = 2, rate = 0.5)
crp <- rnorm(n_pat, 5, 1)
lengthofstay <- 1L + rbinom(n_pat, 9, 0.45)
u <- rnorm(n_doc, 0, 2)
eta <- 3 - 0.04 * age - 0.06 * il6 - 0.1 * crp - 0.2 * lengthofstay + u[did]
remission <- rbinom(n_pat, 1, plogis(eta))
hdp_d <- data.frame(did = factor(did), age = age, il6 = il6, crp = crp,
                    lengthofstay = lengthofstay, remission = remission)
hdp_d <- save_data(hdp_d, "hdp.csv")

# poisson_offset: 60 groups x 20 rows, exposure uniform on (0.5, 5).
set.seed(22)
n_g <- 60
g <- rep(seq_len(n_g), each = 20)
x <- rnorm(length(g))
exposure <- runif(length(g), 0.5, 5)
u <- rnorm(n_g, 0, 0.5)
y <- rpois(length(g), exposure * exp(0.2 + 0.4 * x + u[g]))
poff_d <- data.frame(g = factor(g), x = x, exposure = exposure, logexp = log(exposure), y = y)
poff_d <- save_data(poff_d, "poisson_offset.csv")

# binary_slope: 80 groups x 25 rows, random intercept SD 1, slope SD 0.8,
# correlation 0.4.
set.seed(23)
n_g <- 80
g <- rep(seq_len(n_g), each = 25)
x <- rnorm(length(g))
t <- runif(length(g), -1, 1)
S <- matrix(c(1, 0.4 * 0.8, 0.4 * 0.8, 0.64), 2)
b <- matrix(rnorm(2 * n_g), n_g) %*% chol(S)
eta <- -0.3 + 0.5 * x + 0.7 * t + b[g, 1] + b[g, 2] * t
y <- rbinom(length(g), 1, plogis(eta))
bslope_d <- data.frame(g = factor(g), x = x, t = t, y = y)
bslope_d <- save_data(bslope_d, "binary_slope.csv")

# weighted: 30 groups x 10 rows, residual variance 1.5^2 / w.
set.seed(24)
n_g <- 30
g <- rep(seq_len(n_g), each = 10)
x <- rnorm(length(g))
w <- runif(length(g), 0.5, 3)
u <- rnorm(n_g, 0, 2)
y <- 5 + 1.5 * x + u[g] + rnorm(length(g), 0, 1.5 / sqrt(w))
weighted_d <- data.frame(g = factor(g), x = x, w = w, y = y)
weighted_d <- save_data(weighted_d, "weighted.csv")

## ------------------------------------------------------------------ models
specs <- list(
  cbpp = list(data = "cbpp_d", formula = cbind(incidence, size - incidence) ~ period + (1 | herd),
              family = quote(binomial)),
  cbpp_prop = list(data = "cbpp_d", formula = prop ~ period + (1 | herd), family = quote(binomial),
                   weights = "size"),
  cbpp_agq25 = list(data = "cbpp_d", formula = cbind(incidence, size - incidence) ~ period + (1 | herd),
                    family = quote(binomial), nAGQ = 25),
  cbpp_nagq0 = list(data = "cbpp_d", formula = cbind(incidence, size - incidence) ~ period + (1 | herd),
                    family = quote(binomial), nAGQ = 0),
  cbpp_probit = list(data = "cbpp_d", formula = cbind(incidence, size - incidence) ~ period + (1 | herd),
                     family = quote(binomial(link = "probit"))),
  cbpp_cloglog = list(data = "cbpp_d", formula = cbind(incidence, size - incidence) ~ period + (1 | herd),
                      family = quote(binomial(link = "cloglog"))),
  grouse = list(data = "grouse_d",
                formula = ticks ~ year + cheight + (1 | brood) + (1 | index) + (1 | location),
                family = quote(poisson)),
  verbagg = list(data = "verbagg_d", formula = r2 ~ anger + gender + btype + situ + (1 | id) + (1 | item),
                 family = quote(binomial)),
  hdp = list(data = "hdp_d", formula = remission ~ age + il6 + crp + lengthofstay + (1 | did),
             family = quote(binomial)),
  poisson_offset = list(data = "poff_d", formula = y ~ x + offset(logexp) + (1 | g),
                        family = quote(poisson)),
  poisson_offset_agq10 = list(data = "poff_d", formula = y ~ x + offset(logexp) + (1 | g),
                              family = quote(poisson), nAGQ = 10),
  binary_slope = list(data = "bslope_d", formula = y ~ x + t + (1 + t | g), family = quote(binomial)),
  weighted_lmm = list(data = "weighted_d", formula = y ~ x + (1 | g), weights = "w", REML = TRUE),
  weighted_lmm_ml = list(data = "weighted_d", formula = y ~ x + (1 | g), weights = "w", REML = FALSE),
  cbpp_m0 = list(data = "cbpp_d", formula = cbind(incidence, size - incidence) ~ 1 + (1 | herd),
                 family = quote(binomial)))

controls <- list(
  bobyqa = list(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5, rhoend = 1e-12)),
  nelder_mead = list(optimizer = "Nelder_Mead",
                     optCtrl = list(maxfun = 1e5, FtolAbs = 1e-14, FtolRel = 1e-15, XtolRel = 1e-12)),
  nloptwrap = list(optimizer = "nloptwrap",
                   optCtrl = list(maxeval = 1e5, xtol_abs = 1e-14, ftol_abs = 1e-14,
                                  xtol_rel = 0, ftol_rel = 0)))

# The call glmer / lmer is given, built so that it prints as written.
make_call <- function(s, control) {
  lmm <- is.null(s$family)
  cl <- list(as.name(if (lmm) "lmer" else "glmer"), s$formula, data = as.name(s$data))
  if (!lmm) cl$family <- s$family
  if (!is.null(s$weights)) cl$weights <- as.name(s$weights)
  if (!is.null(s$nAGQ)) cl$nAGQ <- s$nAGQ
  if (lmm) cl$REML <- s$REML
  if (!is.null(control)) {
    ctl <- c(list(as.name(if (lmm) "lmerControl" else "glmerControl")), control)
    if (!lmm) ctl$tolPwrss <- 1e-12
    cl$control <- as.call(ctl)
  }
  as.call(cl)
}
fit <- function(cl) {
  msgs <- character()
  m <- withCallingHandlers(eval(cl, globalenv()),
         warning = function(w) { msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleWarning") },
         message = function(w) { msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleMessage") })
  list(m = m, msgs = c(msgs, m@optinfo$conv$lme4$messages))
}

ref <- data.frame()
add <- function(model, kind, name, value)
  ref <<- rbind(ref, data.frame(model = model, kind = kind, name = as.character(name),
                                value = num(value)))
log_lines <- character()
say <- function(...) {
  line <- paste0(...)
  cat(line, "\n")
  log_lines <<- c(log_lines, line)
}

fits <- list()
for (name in names(specs)) {
  s <- specs[[name]]
  lmm <- is.null(s$family)
  default <- fit(make_call(s, NULL))
  # lme4's default control with only tolPwrss tightened, to split the gain of
  # the tight runs into PIRLS tolerance and optimizer tolerance (log only).
  pw <- if (lmm) NULL else fit(make_call(s, list()))
  runs <- lapply(controls, function(ctl) fit(make_call(s, ctl)))
  ll <- sapply(runs, function(r) as.numeric(logLik(r$m)))
  use <- "bobyqa"
  if (max(ll) - ll[["bobyqa"]] > 1e-7) use <- names(which.max(ll))
  m <- runs[[use]]$m
  fits[[name]] <- m
  say(sprintf("%s: default %.10f, default + tolPwrss %s, tight %s; reference %s; singular %s", name,
              as.numeric(logLik(default$m)),
              if (lmm) "-" else sprintf("%.10f", as.numeric(logLik(pw$m))),
              paste(sprintf("%s %.10f", names(ll), ll), collapse = ", "), use, isSingular(m)))
  if (length(default$msgs)) say("  default: ", paste(unique(default$msgs), collapse = " | "))
  if (!lmm && length(pw$msgs)) say("  default + tolPwrss: ", paste(unique(pw$msgs), collapse = " | "))
  for (r in names(runs)) if (length(runs[[r]]$msgs))
    say("  ", r, ": ", paste(unique(runs[[r]]$msgs), collapse = " | "))

  if (name == "cbpp_m0") {
    add("cbpp_lrt", "loglik_m0", "", logLik(m))
    next
  }
  cf <- coef(summary(m))
  terms <- rownames(cf)
  add(name, "beta", terms, cf[, "Estimate"])
  add(name, "se", terms, cf[, "Std. Error"])
  if (lmm) {
    add(name, "t", terms, cf[, "t value"])
  } else {
    add(name, "z", terms, cf[, "z value"])
    add(name, "p", terms, cf[, "Pr(>|z|)"])
  }
  se_rx <- suppressWarnings(sqrt(diag(as.matrix(vcov(m, use.hessian = FALSE)))))
  add(name, "se_rx", terms, se_rx)
  se_h <- sqrt(diag(as.matrix(vcov(m))))
  say(sprintf("  summary SE = vcov(m) SE: %s; max |se - se_rx| / se = %.3g",
              isTRUE(all.equal(unname(se_h), unname(cf[, "Std. Error"]), tolerance = 1e-14)),
              max(abs(se_h - se_rx) / se_h)))
  th <- getME(m, "theta")
  add(name, "theta", paste0("theta", seq_along(th)), th)
  vc <- as.data.frame(VarCorr(m))
  for (i in seq_len(nrow(vc))) {
    if (vc$grp[i] == "Residual") add(name, "sd", "Residual", vc$sdcor[i])
    else if (is.na(vc$var2[i])) add(name, "sd", paste0(vc$grp[i], ":", vc$var1[i]), vc$sdcor[i])
    else add(name, "cor", paste0(vc$grp[i], ":", vc$var1[i], ":", vc$var2[i]), vc$sdcor[i])
  }
  add(name, "loglik", "", logLik(m))
  add(name, "deviance", "", -2 * as.numeric(logLik(m)))
  add(name, "aic", "", AIC(m))
  add(name, "bic", "", BIC(m))
  add(name, "df_resid", "", df.residual(m))
  add(name, "nobs", "", nobs(m))
  add(name, "loglik_default", "", logLik(default$m))
  if (lmm) {
    add(name, "sigma", "", sigma(m))
    add(name, "criterion", "", if (isREML(m)) REMLcrit(m) else deviance(m))
  }
  re <- ranef(m, condVar = TRUE)
  for (grp in names(re)) {
    r <- re[[grp]]
    pv <- attr(r, "postVar")
    for (k in seq_along(r)) {
      nm <- paste0(grp, ":", rownames(r), ":", names(r)[k])
      add(name, "ranef", nm, r[[k]])
      add(name, "condsd", nm, sqrt(pv[k, k, ]))
    }
  }
  rows <- 1:10
  add(name, "fitted_link", rows, predict(m, type = "link")[rows])
  add(name, "fitted_resp", rows, predict(m, type = "response")[rows])
  add(name, "resid_response", rows, residuals(m, type = "response")[rows])
  add(name, "resid_pearson", rows, residuals(m, type = "pearson")[rows])
  add(name, "resid_deviance", rows, residuals(m, type = "deviance")[rows])
}

a <- anova(fits$cbpp_m0, fits$cbpp)
add("cbpp_lrt", "chisq", "", a$Chisq[2])
add("cbpp_lrt", "df", "", a$Df[2])
add("cbpp_lrt", "p", "", a$`Pr(>Chisq)`[2])
say(sprintf("cbpp_lrt: chisq %.10f df %d p %.6g", a$Chisq[2], a$Df[2], a$`Pr(>Chisq)`[2]))

# The grouse model is written with the precomputed cheight; R's own
# scale(HEIGHT) formula gives the same fit.
g2 <- glmer(TICKS ~ YEAR + scale(HEIGHT) + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION),
            data = lme4::grouseticks, family = poisson,
            control = eval(make_call(specs$grouse, controls$bobyqa)$control))
say(sprintf("grouse with scale(HEIGHT): loglik difference %.3g",
            as.numeric(logLik(g2)) - as.numeric(logLik(fits$grouse))))
# The offset is in the link-scale predictions.
say(sprintf("poisson_offset: max |predict(link) - log(fitted)| = %.3g",
            max(abs(predict(fits$poisson_offset, type = "link") - log(fitted(fits$poisson_offset))))))

write.csv(ref, "glmm.ref.csv", row.names = FALSE, quote = FALSE)
writeLines(log_lines, "/tmp/glmmrefs/log.txt")
