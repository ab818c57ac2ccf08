## Reference output of the R package HonestDiD 0.2.6 (Rambachan & Roth 2023) for
## tests/test_honest_flci.py: fixed-length confidence intervals (FLCI) under Delta^SD(M).
## Run from this folder:  R_LIBS=/opt/rlib Rscript make_reference.R
## Inputs are the package's own example data (BCdata_EventStudy: the createSensitivityResults
## help-page example; LWdata_EventStudy: the other shipped event study).  Their betahat and sigma
## are written out so that the Python tests need no R.
library(HonestDiD)
stopifnot(packageVersion("HonestDiD") == "0.2.6")

fmt <- function(df) {
    for (v in names(df)) if (is.numeric(df[[v]])) df[[v]] <- sprintf("%.17g", df[[v]])
    df
}
write_full <- function(df, file) write.csv(fmt(df), file, row.names = FALSE, quote = FALSE)

datasets <- list(bc = BCdata_EventStudy, lw = LWdata_EventStudy)
dims <- lapply(datasets, function(d) c(length(d$prePeriodIndices), length(d$postPeriodIndices)))

## Cases: dataset, target label, l_vec, Mvec.
bc <- datasets$bc
## Default Mvec of createSensitivityResults (as in its help-page example): 10 points from 0 to the
## upper bound DeltaSD_upperBound_Mpre(..., alpha = 0.05) of the pre-period second differences.
bc_mub <- DeltaSD_upperBound_Mpre(betahat = bc$betahat, sigma = bc$sigma,
                                  numPrePeriods = dims$bc[1], alpha = 0.05)
bc_mvec <- seq(from = 0, to = bc_mub, length.out = 10)
cases <- list(
    list(data = "bc", target = "first", l = basisVector(1, 4), M = bc_mvec),
    list(data = "bc", target = "average", l = rep(1 / 4, 4), M = bc_mvec),
    ## l with sum_t t * l_t < 0: HonestDiD's bias objective adds 2 * M * |sum_t t l_t| here
    list(data = "bc", target = "minus_first", l = -basisVector(1, 4), M = c(0, 0.05, 0.1)),
    list(data = "lw", target = "first", l = basisVector(1, dims$lw[2]), M = c(0, 0.01, 0.02)))

inputs <- do.call(rbind, lapply(names(datasets), function(nm) {
    d <- datasets[[nm]]
    data.frame(data = nm, index = seq_along(d$betahat), time = d$timeVec,
               role = ifelse(seq_along(d$betahat) <= dims[[nm]][1], "pre", "post"),
               betahat = unname(d$betahat))
}))
write_full(inputs, "betahat.csv")
sig <- do.call(rbind, lapply(names(datasets), function(nm) {
    s <- unname(datasets[[nm]]$sigma)
    g <- expand.grid(row = seq_len(nrow(s)), col = seq_len(ncol(s)))
    data.frame(data = nm, row = g$row, col = g$col, sigma = s[cbind(g$row, g$col)])
}))
write_full(sig, "sigma.csv")

rows <- list(); wts <- list()
for (cs in cases) {
    d <- datasets[[cs$data]]
    np <- dims[[cs$data]][1]; nq <- dims[[cs$data]][2]
    sens <- createSensitivityResults(betahat = d$betahat, sigma = d$sigma, numPrePeriods = np,
                                     numPostPeriods = nq, method = "FLCI", Mvec = cs$M,
                                     l_vec = cs$l, alpha = 0.05)
    for (j in seq_along(cs$M)) {
        f <- findOptimalFLCI(betahat = d$betahat, sigma = d$sigma, M = cs$M[j],
                             numPrePeriods = np, numPostPeriods = nq, l_vec = cs$l, alpha = 0.05)
        stopifnot(isTRUE(all.equal(f$FLCI, c(sens$lb[j], sens$ub[j]), tolerance = 1e-12)))
        v <- c(f$optimalVec)
        rows[[length(rows) + 1]] <- data.frame(
            data = cs$data, target = cs$target, M = cs$M[j], lb = sens$lb[j], ub = sens$ub[j],
            half_length = c(f$optimalHalfLength), center = sum(v * d$betahat),
            sd = sqrt(c(t(v) %*% d$sigma %*% v)), status = f$status)
        wts[[length(wts) + 1]] <- data.frame(data = cs$data, target = cs$target, M = cs$M[j],
                                             index = seq_along(v), weight = v)
    }
}
write_full(do.call(rbind, rows), "flci.csv")
write_full(do.call(rbind, wts), "flci_weights.csv")

## HonestDiD's own objective over h (its internal functions): the minimal worst-case bias given
## sd <= h (CVXR/ECOS) and the half-length h * cv(bias / h) with its simulated quantile, on a grid
## from the minimum-variance h to the minimum-bias h, for the cases whose optimum is interior.
grid_cases <- list(list(case = cases[[1]], M = bc_mvec[2]), list(case = cases[[2]], M = bc_mvec[2]),
                   list(case = cases[[4]], M = 0.01), list(case = cases[[4]], M = 0.02))
hgrid <- do.call(rbind, lapply(grid_cases, function(g) {
    d <- datasets[[g$case$data]]
    np <- dims[[g$case$data]][1]; nq <- dims[[g$case$data]][2]; l <- g$case$l
    h_lo <- HonestDiD:::.findLowestH(d$sigma, np, nq, l)
    h_hi <- c(HonestDiD:::.findHForMinimumBias(d$sigma, np, nq, l))
    do.call(rbind, lapply(seq(h_lo, h_hi, length.out = 41), function(h) {
        r <- HonestDiD:::.findWorstCaseBiasGivenH(h, d$sigma, np, nq, l)
        data.frame(data = g$case$data, target = g$case$target, M = g$M, h = h,
                   max_bias = g$M * r$value,
                   half_length_sim = h * HonestDiD:::.qfoldednormal(0.95, mu = g$M * r$value / h),
                   status = r$status)
    }))
}))
write_full(hgrid, "r_objective_grid.csv")

## HonestDiD's folded-normal quantile: 10^6 simulated normal draws (seed 0) per call.
mu <- c(0, 0.25, 0.5, 1, 2, 4, 8)
q <- data.frame(p = rep(c(0.95, 0.9), each = length(mu)), mu = rep(mu, 2))
q$quantile <- mapply(function(p, m) HonestDiD:::.qfoldednormal(p = p, mu = m), q$p, q$mu)
write_full(q, "qfoldednormal.csv")

writeLines(c(sub("^R version ", "R ", R.version.string),
             paste("HonestDiD", packageVersion("HonestDiD")),
             paste("CVXR", packageVersion("CVXR")),
             paste("ECOS solver (ECOSolveR)", packageVersion("ECOSolveR"))), "versions.txt")
