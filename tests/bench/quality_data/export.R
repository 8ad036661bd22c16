# export.R - writes the R-packaged tables of the quality benchmark as
# tests/bench/quality_data/NAME.csv.gz. Run once, by hand, after
#
#   apt-get install -y r-base-core r-cran-modeldata r-cran-palmerpenguins \
#       r-cran-mass r-cran-ggplot2 r-cran-aer
#
#   Rscript tests/bench/quality_data/export.R
#
# The benchmark itself reads the committed .csv.gz files and never needs R.
# SOURCES.md says, per table, where it comes from, its license and what
# was changed here (columns dropped, subsampling). Missing values are
# written as empty fields; factors (ordered ones too) as their labels.
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))

get_data <- function(name, package) {
    e <- new.env()
    data(list = name, package = package, envir = e)
    as.data.frame(get(name, envir = e))
}

put <- function(d, name) {
    path <- file.path(here, paste0(name, ".csv.gz"))
    con <- gzfile(path, "w", compression = 9)
    write.csv(d, con, row.names = FALSE, na = "")
    close(con)
    cat(sprintf("%-12s %6d rows %3d columns  %s\n", name, nrow(d), ncol(d), path))
}

# palmerpenguins (CC0): species from measurements, island and sex; 2 rows
# lack every measurement, 11 lack sex.
put(get_data("penguins", "palmerpenguins"), "penguins")

# MASS (GPL-2 | GPL-3): low birth weight; bwt (the weight itself) is the
# target's source and is dropped; race 1/2/3 becomes its labels.
b <- get_data("birthwt", "MASS")
b$bwt <- NULL
b$race <- c("white", "black", "other")[b$race]
b$low <- ifelse(b$low == 1, "yes", "no")
put(b, "birthwt")

# AER (GPL-2 | GPL-3): hourly wage (US CPS, May 1985).
put(get_data("CPS1985", "AER"), "cps1985")

# modeldata (MIT).
put(get_data("Sacramento", "modeldata"), "sacramento")
put(get_data("concrete", "modeldata"), "concrete")
put(get_data("attrition", "modeldata"), "attrition")
put(get_data("ames", "modeldata"), "ames")
put(get_data("credit_data", "modeldata"), "credit_data")
put(get_data("hpc_data", "modeldata"), "hpc_data")
put(get_data("mlc_churn", "modeldata"), "mlc_churn")
w <- get_data("wa_churn", "modeldata")
put(w, "wa_churn")

# ggplot2 (MIT): diamond prices.
put(get_data("diamonds", "ggplot2"), "diamonds")

# AER: Angrist and Evans (1998) fertility, 254,654 mothers; 100,000 rows
# drawn without replacement with set.seed(0) (R >= 3.6 sampling), kept in
# their original order.
f <- get_data("Fertility", "AER")
set.seed(0)
f <- f[sort(sample.int(nrow(f), 100000)), ]
put(f, "fertility")
