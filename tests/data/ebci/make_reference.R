## Reference output of the R package ebci (Armstrong, Kolesar & Plagborg-Moller 2022) for
## tests/test_ebci.py.  Run from this folder:  Rscript make_reference.R
## It needs R >= 4.1 with the package ebci 1.0.0 (and lpSolve, which ebci uses to check its
## critical values) installed.  Inputs are synthetic and generated here, so the CSV files carry
## both the inputs and the outputs; the package's own example data (cz) is only summarised.
library(ebci)
stopifnot(packageVersion("ebci") == "1.0.0")

fmt <- function(df) {
    for (v in names(df)) if (is.numeric(df[[v]])) df[[v]] <- sprintf("%.17g", df[[v]])
    df
}
write_full <- function(df, file) write.csv(fmt(df), file, row.names = FALSE, quote = FALSE)

moment_rows <- function(case, r) {
    data.frame(case = case,
               quantity = c("mu2", "mu2_uncorrected", "kappa", "kappa_uncorrected",
                            if (length(r$delta)) paste0("delta:", names(r$delta))),
               value = c(unname(r$mu2), unname(r$kappa), unname(r$delta)))
}

run_case <- function(case, formula, data, weights, alpha, kappa, fs, note) {
    args <- list(formula = formula, data = data, se = data$se, alpha = alpha,
                 kappa = kappa, fs_correction = fs)
    if (weights) args$weights <- 1 / data$se^2
    r <- do.call(ebci, args)
    out <- cbind(data, weight = r$df$weights, r$df[, c("w_eb", "th_eb", "len_eb", "len_pa",
                                                       "ncov_pa", "len_us", "residuals")])
    write_full(out, paste0("case_", case, ".csv"))
    list(moments = moment_rows(case, r),
         spec = data.frame(case = case, formula = deparse(formula), alpha = alpha,
                           weights = if (weights) "1/se^2" else "none",
                           kappa = if (is.null(kappa)) "estimated" else format(kappa),
                           fs_correction = fs, n = nrow(data), note = note))
}

set.seed(20240601)
## A: the documented example's shape (theta ~ one covariate, precision weights, 90% intervals),
##    heavy-tailed effects
n <- 60
x <- runif(n, 35, 60)
se <- sqrt(runif(n, 0.002, 0.3))
theta <- -1.4 + 0.03 * x + 0.08 * rt(n, df = 4)
dA <- data.frame(y = theta + se * rnorm(n), se = se, x = x)
## B: 32 areas, intercept only, equal weights, 95% intervals, normal effects
n <- 32
se <- 0.6 / sqrt(round(exp(runif(n, log(20), log(400)))))
dB <- data.frame(y = 0.2 + 0.05 * rnorm(n) + se * rnorm(n), se = se)
## C: shrink toward 0, FPLIB correction
n <- 40
se <- sqrt(seq(0.01, 0.09, length.out = n))
dC <- data.frame(y = 0.15 * rnorm(n) + se * rnorm(n), se = se)
## D: two covariates, no kurtosis bound, no finite-sample correction
n <- 50
x1 <- rnorm(n); x2 <- runif(n)
se <- sqrt(runif(n, 0.01, 0.2))
dD <- data.frame(y = 0.5 * x1 - x2 + 0.3 * rnorm(n) + se * rnorm(n), se = se, x1 = x1, x2 = x2)
## E: subset of B (first 12 areas) with a given kappa = 3
dE <- dB[1:12, ]
## F: no true variation in the effects, so the PMT lower bound on mu2 binds (seed chosen so)
set.seed(3)
n <- 20
se <- sqrt(runif(n, 0.01, 0.1))
dF <- data.frame(y = 0.1 + se * rnorm(n), se = se)

res <- list(
    run_case("covariate_precision_weights", y ~ x, dA, TRUE, 0.1, NULL, "PMT",
             "like ebci(theta25~stayer25, data=cz, se=se25, weights=1/se25^2, alpha=0.1)"),
    run_case("intercept_equal_weights", y ~ 1, dB, FALSE, 0.05, NULL, "PMT",
             "32 areas, intercept only, default weights"),
    run_case("zero_fplib", y ~ 0, dC, FALSE, 0.05, NULL, "FPLIB", "shrink toward 0"),
    run_case("two_covariates_kappa_inf_none", y ~ x1 + x2, dD, TRUE, 0.05, Inf, "none",
             "no kurtosis bound"),
    run_case("subset_kappa3", y ~ 1, dE, FALSE, 0.1, 3, "PMT", "given kappa"),
    run_case("no_signal_pmt_floor", y ~ 1, dF, TRUE, 0.05, NULL, "PMT",
             "constant effects: PMT floor on mu2"))
write_full(do.call(rbind, lapply(res, `[[`, "moments")), "moments.csv")
write.csv(do.call(rbind, lapply(res, `[[`, "spec")), "cases.csv", row.names = FALSE)

## Critical values cva(m2, kappa, alpha) and non-coverage rho at them
grid <- expand.grid(m2 = c(0, 0.01, 0.25, 1, 4, 25, 100), kappa = c(1, 1.5, 3, 10, Inf),
                    alpha = c(0.05, 0.1))
grid$cv <- NA_real_
grid$noncoverage <- NA_real_
for (j in seq_len(nrow(grid))) {
    cj <- cva(grid$m2[j], kappa = grid$kappa[j], alpha = grid$alpha[j], check = TRUE)
    grid$cv[j] <- cj$cv
    grid$noncoverage[j] <- cj$alpha
}
write_full(grid, "cva_grid.csv")

## The package's documented example (vignette): summaries only, the data are not copied here
r <- ebci(formula = theta25 ~ stayer25, data = cz, se = se25, weights = 1 / se25^2,
          alpha = 0.1)
cz_summary <- data.frame(
    quantity = c("n", "mu2", "mu2_uncorrected", "kappa", "kappa_uncorrected",
                 "delta:(Intercept)", "delta:stayer25", "mean_w_eb", "mean_th_eb",
                 "mean_len_eb", "max_len_eb", "mean_len_pa", "mean_len_us", "mean_ncov_pa"),
    value = c(nrow(r$df), unname(r$mu2), unname(r$kappa), unname(r$delta),
              mean(r$df$w_eb), mean(r$df$th_eb), mean(r$df$len_eb), max(r$df$len_eb),
              mean(r$df$len_pa), mean(r$df$len_us), mean(r$df$ncov_pa)))
write_full(cz_summary, "cz_example_summary.csv")
writeLines(c(paste("R", R.version$major, R.version$minor),
             paste("ebci", packageVersion("ebci")),
             paste("lpSolve", packageVersion("lpSolve"))), "versions.txt")
