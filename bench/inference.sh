#!/usr/bin/env bash
# Inference benchmark on the PostgreSQL-free core (bench/inference.c): what
# the Satterthwaite step adds to a fit, and what profile intervals cost.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s bench/inference
# one BLAS thread, as in the server (lmm.blas_threads)
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
exec bench/inference
