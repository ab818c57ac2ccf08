## Reference output of R `did` 2.1.2 (Callaway & Sant'Anna 2021) with covariates, and of the
## DRDID 1.0.4 2x2 panel estimators, for tests/test_cs_covariates.py.
## Run (from any folder):  R_LIBS=/opt/rlib Rscript tests/data/did_covariates/make_reference.R
## Writes, next to this script: att_gt.csv, aggte.csv, cell_2x2.csv, cell_2x2_summary.csv and
## versions.txt.  The tests only read these CSVs; they never call R.
## Cases: the documented example att_gt(yname="lemp", tname="year", idname="countyreal",
## gname="first.treat", xformla=~lpop, data=mpdta, est_method=M, bstrap=FALSE, cband=FALSE) for
## M in dr, ipw, reg and DRDID::drdid_imp_panel (passed to did as a custom est_method), with
## control_group nevertreated and notyettreated; dr with weights w; dr with ~lpop + xtv (varying
## and universal base period).  aggte(type = "simple") and aggte(type = "dynamic") of each
## (analytical SEs).  One 2x2 cell with the four DRDID panel estimators and their influence
## functions.
##
## Data: `data(mpdta)` of the did package.  The script checks that it is the same data as the
## project's tests/data/mpdta.csv (did 2.5.1's mpdta.rda converted to CSV): same 2500 rows
## after sorting by county and year, identical year / countyreal / first.treat / treat, and
## lpop / lemp equal to 1e-12 (sums printed below).  It stops if they differ.
##
## Extra columns, defined identically in the Python tests (deterministic, no randomness):
##   w   = 1 + (countyreal %% 7) / 3                           (a time-invariant unit weight)
##   xtv = ((countyreal %% 17) + (year - 2003) * (countyreal %% 5)) / 10   (time-varying)
## xtv checks that covariates are taken at the earlier period of each 2x2 (BMisc::panel2cs2
## keeps the rows of the first of the two periods): the base period, except for pre-periods
## with base_period = "universal", where the earlier period is t itself.
suppressPackageStartupMessages({ library(did); library(DRDID) })
stopifnot(packageVersion("did") == "2.1.2", packageVersion("DRDID") == "1.0.4")

args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
out <- function(name) file.path(here, name)

fmt <- function(df) {
    for (v in names(df)) if (is.numeric(df[[v]])) df[[v]] <- sprintf("%.17g", df[[v]])
    df
}
write_full <- function(df, file) write.csv(fmt(df), out(file), row.names = FALSE, quote = FALSE)

# --------------------------------------------------------------------------- same data check
data(mpdta)
csv <- read.csv(file.path(here, "..", "mpdta.csv"))
a <- mpdta[order(mpdta$countyreal, mpdta$year), ]
b <- csv[order(csv$countyreal, csv$year), ]
stopifnot(nrow(a) == 2500, nrow(b) == 2500)
for (v in c("year", "countyreal", "first.treat", "treat")) stopifnot(all(a[[v]] == b[[v]]))
for (v in c("lpop", "lemp")) stopifnot(max(abs(a[[v]] - b[[v]])) < 1e-12)
cat(sprintf("mpdta: R sum(lemp) = %.10f, csv sum(lemp) = %.10f; R sum(lpop) = %.10f, csv %.10f\n",
            sum(a$lemp), sum(b$lemp), sum(a$lpop), sum(b$lpop)))

mp <- mpdta
mp$w <- 1 + (mp$countyreal %% 7) / 3
mp$xtv <- ((mp$countyreal %% 17) + (mp$year - 2003) * (mp$countyreal %% 5)) / 10

# --------------------------------------------------------------------------- att_gt / aggte
# R did takes a function as est_method: the improved DR estimator (not a built-in did option;
# for a custom function did skips its overlap / regression pre-checks)
imp <- function(y1, y0, D, covariates, i.weights, inffunc)
    suppressWarnings(drdid_imp_panel(y1, y0, D, covariates, i.weights = i.weights, inffunc = TRUE))
cases <- list(
    list(case = "dr_never", est = "dr", control = "nevertreated", x = ~lpop),
    list(case = "ipw_never", est = "ipw", control = "nevertreated", x = ~lpop),
    list(case = "reg_never", est = "reg", control = "nevertreated", x = ~lpop),
    list(case = "dr_notyet", est = "dr", control = "notyettreated", x = ~lpop),
    list(case = "ipw_notyet", est = "ipw", control = "notyettreated", x = ~lpop),
    list(case = "reg_notyet", est = "reg", control = "notyettreated", x = ~lpop),
    list(case = "dr_improved_never", est = imp, control = "nevertreated", x = ~lpop),
    list(case = "dr_improved_notyet", est = imp, control = "notyettreated", x = ~lpop),
    list(case = "dr_weighted", est = "dr", control = "nevertreated", x = ~lpop, w = "w"),
    list(case = "dr_timevarying", est = "dr", control = "nevertreated", x = ~lpop + xtv),
    list(case = "dr_timevarying_universal", est = "dr", control = "nevertreated",
         x = ~lpop + xtv, base = "universal")
)
att_rows <- list(); agg_rows <- list()
for (cs in cases) {
    base <- if (is.null(cs$base)) "varying" else cs$base
    r <- suppressWarnings(att_gt(yname = "lemp", tname = "year", idname = "countyreal",
                                 gname = "first.treat", xformla = cs$x, data = mp,
                                 est_method = cs$est, control_group = cs$control,
                                 weightsname = cs$w, base_period = base,
                                 bstrap = FALSE, cband = FALSE))
    att_rows[[cs$case]] <- data.frame(case = cs$case, g = r$group, t = r$t, att = r$att,
                                      se = r$se)
    for (type in c("simple", "dynamic")) {
        ag <- suppressWarnings(aggte(r, type = type, bstrap = FALSE, cband = FALSE))
        rows <- data.frame(case = cs$case, type = type, e = NA_real_,
                           estimate = ag$overall.att, se = ag$overall.se)
        if (type == "dynamic") {
            rows <- rbind(rows, data.frame(case = cs$case, type = type, e = ag$egt,
                                           estimate = ag$att.egt, se = ag$se.egt))
        }
        agg_rows[[paste(cs$case, type)]] <- rows
    }
}
write_full(do.call(rbind, att_rows), "att_gt.csv")
write_full(do.call(rbind, agg_rows), "aggte.csv")

# --------------------------------------------------------------------------- one 2x2 cell
# cohort 2004 vs never treated, 2003 -> 2004, covariate lpop (2003), weights w; the four DRDID
# panel estimators with their influence functions (DRDID's own scaling: se = sd(IF)/sqrt(n)).
cell <- mp[mp$first.treat %in% c(0, 2004) & mp$year %in% c(2003, 2004), ]
cell <- cell[order(cell$countyreal, cell$year), ]
pre <- cell[cell$year == 2003, ]; post <- cell[cell$year == 2004, ]
stopifnot(all(pre$countyreal == post$countyreal))
D <- as.numeric(pre$first.treat == 2004)
X <- cbind(1, pre$lpop, pre$xtv)
fits <- list(
    # suppressWarnings: glm's "non-integer #successes" with non-integer weights
    dr = suppressWarnings(
        drdid_panel(post$lemp, pre$lemp, D, X, i.weights = pre$w, inffunc = TRUE)),
    ipw = suppressWarnings(
        std_ipw_did_panel(post$lemp, pre$lemp, D, X, i.weights = pre$w, inffunc = TRUE)),
    reg = reg_did_panel(post$lemp, pre$lemp, D, X, i.weights = pre$w, inffunc = TRUE),
    dr_improved = suppressWarnings(
        drdid_imp_panel(post$lemp, pre$lemp, D, X, i.weights = pre$w, inffunc = TRUE))
)
cell_out <- data.frame(countyreal = pre$countyreal, D = D, y0 = pre$lemp, y1 = post$lemp,
                       lpop = pre$lpop, xtv = pre$xtv, w = pre$w)
for (m in names(fits)) cell_out[[paste0("if_", m)]] <- as.vector(fits[[m]]$att.inf.func)
write_full(cell_out, "cell_2x2.csv")
write_full(data.frame(method = names(fits),
                      att = sapply(fits, function(f) f$ATT),
                      se = sapply(fits, function(f) f$se),
                      ps_flag = sapply(fits, function(f) if (is.null(f$ps.flag)) NA else f$ps.flag)),
           "cell_2x2_summary.csv")

writeLines(c(R.version.string,
             paste("did", as.character(packageVersion("did"))),
             paste("DRDID", as.character(packageVersion("DRDID"))),
             paste("BMisc", as.character(packageVersion("BMisc")))),
           out("versions.txt"))
