# lme4 side of bench/fit.sh: read one CSV that bench/fit.sh exported from the
# benchmark table (g, x1..x6, y1, y2), then time lmer() alone, the data
# already in R, as the median of `runs` fits.
#   Rscript bench/fit.R data.csv q runs
# prints one line: "lme4 <median seconds> <REML criterion>"
args <- commandArgs(TRUE)
q <- as.integer(args[2])
runs <- as.integer(args[3])
suppressMessages(library(lme4))
d <- read.csv(args[1], colClasses = c("character", rep("numeric", 8)))
d$g <- factor(d$g)
f <- if (q == 1) y1 ~ x1 + x2 + x3 + x4 + x5 + x6 + (1 | g) else y2 ~ x1 + x2 + x3 + x4 + x5 + x6 + (1 + x1 | g)
t <- replicate(runs, system.time(m <<- lmer(f, d, REML = TRUE))[["elapsed"]])
cat(sprintf("lme4 %.3f %.10f\n", median(t), m@devcomp$cmp[["REML"]]))
