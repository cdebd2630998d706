# glmer side of bench/glmm.sh: read the CSV that bench/glmm.sh exported from
# its table (y, x1, x2, t, g), then time glmer() alone (the data already in
# R) with default control, as issue 21's benchmark.
#   Rscript bench/glmm.R sim.csv
# prints one line: "glmer <seconds> <logLik> <SD of the intercept> <number of warnings>"
args <- commandArgs(TRUE)
suppressMessages(library(lme4))
d <- read.csv(args[1], colClasses = c("numeric", "numeric", "numeric", "numeric", "character"))
d$g <- factor(d$g)
nwarn <- 0
t <- system.time(m <- withCallingHandlers(
	glmer(y ~ x1 + x2 + t + (1 | g), data = d, family = binomial),
	warning = function(w) {
		nwarn <<- nwarn + 1
		invokeRestart("muffleWarning")
	}))[["elapsed"]]
cat(sprintf("glmer %.3f %.10f %.8f %d\n", t, as.numeric(logLik(m)), attr(VarCorr(m)$g, "stddev")[[1]], nwarn))
