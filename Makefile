# lmm: PGXS build.  "make && make install", then "make installcheck" against
# a running server; scripts/test.sh runs the whole suite in a throwaway
# cluster.

EXTENSION = lmm
EXTVERSION = $(shell sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'/\1/p" lmm.control)

MODULE_big = lmm
CORE_OBJS = src/core/lmm_threads.o src/core/lmm_stats_io.o src/core/lmm_terms.o src/core/lmm_terms_io.o \
	src/core/lmm_model.o src/core/lmm_index.o src/core/lmm_dist.o src/core/lmm_formula.o \
	src/core/lmm_dense.o src/core/lmm_system.o src/core/lmm_sparse.o src/core/lmm_start.o src/core/lmm_blocked_pairs.o src/core/lmm_blocks.o \
	src/core/lmm_levels.o src/core/lmm_blocked.o src/core/lmm_gradient.o src/core/lmm_blocked_vgrad.o \
	src/core/lmm_blocked_grad.o src/core/lmm_blocked_hess.o src/core/lmm_deriv.o src/core/lmm_optimize.o \
	src/core/lmm_zscale.o src/core/lmm_satt.o src/core/lmm_fit.o src/core/lmm_profile.o src/core/lmm_kr.o src/core/lmm_anova.o \
	src/core/lmm_boot.o src/core/lmm_lsmeans.o src/core/lmm_rows.o src/core/lmm_glmm.o
OBJS = src/host.o src/numlib.o src/options.o src/json_io.o src/state.o src/agg.o src/fit.o \
	src/stats_io.o src/model_io.o src/extract.o src/score.o src/infer.o src/terms_agg.o src/formula.o src/print.o src/anova.o src/kr.o src/factors.o src/lsmeans.o src/glmm.o $(CORE_OBJS)

DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA = $(filter-out sql/$(EXTENSION).sql sql/$(EXTENSION)--$(EXTVERSION).sql,$(wildcard sql/$(EXTENSION)--*.sql))

PG_CPPFLAGS = -I$(srcdir)/src -Isrc
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -Wno-missing-field-initializers
# The numerical libraries are not linked into lmm.so: src/numlib.c opens
# them when a fit first needs them, by the sonames the build finds
# (numlib_sonames.h).  The core's own programs (tests, benchmarks, fuzzers'
# corpus) link them.
SHLIB_LINK = -lm -pthread
CORE_LIBS = -llapacke -llapack -lblas -lcholmod -lsuitesparseconfig -lnlopt -lm -pthread

REGRESS = $(patsubst test/sql/%.sql,%,$(sort $(wildcard test/sql/*.sql)))
REGRESS_OPTS = --inputdir=test --load-extension=$(EXTENSION)

EXTRA_CLEAN = sql/$(EXTENSION)--$(EXTVERSION).sql src/numlib_sonames.h test/core/test_core bench/inference bench/insteval results regression.diffs regression.out \
	test/fuzz/build test/fuzz/artifacts test/fuzz/make_corpus

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

sql/$(EXTENSION)--$(EXTVERSION).sql: sql/$(EXTENSION).sql
	cp $< $@

# The soname of each numerical library, as the linker would find it.
# (Made once: after the libraries' major versions change, make clean.)
src/numlib_sonames.h:
	@mkdir -p src
	{ for l in blas lapacke cholmod nlopt; do \
		f=$$(readlink -f "$$($(CC) $(LDFLAGS) -print-file-name=lib$$l.so)"); \
		s=$$(objdump -p "$$f" 2>/dev/null | sed -n 's/^ *SONAME *//p'); \
		if [ -z "$$s" ]; then echo "lib$$l.so not found (scripts/deps.sh installs it)" >&2; exit 1; fi; \
		echo "#define LMM_SONAME_$$(echo $$l | tr a-z A-Z) \"$$s\""; \
	done; } > $@.tmp || { rm -f $@.tmp; exit 1; }
	mv $@.tmp $@

src/numlib.o src/numlib.bc: src/numlib_sonames.h src/numlib.h

# Unit tests of the PostgreSQL-free core, with a malloc-based host.
test/core/test_core: test/core/test_core.c test/core/test_terms.c test/core/test_terms_io.c test/core/test_vgrad.c test/core/test_formula.c test/core/test_zscale.c test/core/test_boot.c test/core/test_kr.c test/core/test_sparse.c test/core/test_glmm.c test/core/test_threads.c test/core/host.c test/core/test_util.h $(CORE_OBJS:.o=.c) src/core/*.h
	$(CC) -O2 -g -Wall -Wextra -Isrc/core -o $@ test/core/test_core.c test/core/test_terms.c test/core/test_terms_io.c test/core/test_vgrad.c test/core/test_formula.c test/core/test_zscale.c test/core/test_boot.c test/core/test_kr.c test/core/test_sparse.c test/core/test_glmm.c test/core/test_threads.c test/core/host.c $(CORE_OBJS:.o=.c) $(CORE_LIBS)

# Inference benchmark on the core (bench/inference.sh runs it).
bench/inference: bench/inference.c test/core/host.c test/core/test_util.h $(CORE_OBJS:.o=.c) src/core/*.h
	$(CC) -O2 -g -Wall -Wextra -Isrc/core -o $@ bench/inference.c test/core/host.c $(CORE_OBJS:.o=.c) $(CORE_LIBS)

# InstEval's final solve on the core (bench/insteval.sh runs it).
bench/insteval: bench/insteval.c test/core/host.c test/core/test_util.h $(CORE_OBJS:.o=.c) src/core/*.h
	$(CC) -O2 -g -Wall -Wextra -Isrc/core -o $@ bench/insteval.c test/core/host.c $(CORE_OBJS:.o=.c) $(CORE_LIBS)

.PHONY: coretest
coretest: test/core/test_core
	OPENBLAS_NUM_THREADS=1 test/core/test_core test/data

# The seed corpus's binary values, written by the core's own packers
# (test/fuzz/make_corpus test/fuzz/corpus rewrites them).
test/fuzz/make_corpus: test/fuzz/make_corpus.c test/core/host.c test/core/test_util.h $(CORE_OBJS:.o=.c) src/core/*.h
	$(CC) -O2 -g -Wall -Wextra -Isrc/core -o $@ test/fuzz/make_corpus.c test/core/host.c $(CORE_OBJS:.o=.c) $(CORE_LIBS)

# Open-ended fuzzing of the core, FUZZ_SECONDS (default 20) per harness from
# a random seed; the test command runs the deterministic "fixed" mode.
FUZZ_SECONDS ?= 20
.PHONY: fuzz
fuzz:
	bash test/fuzz/run.sh $(FUZZ_SECONDS)

# PGXS does not track headers: rebuild every object when any header changes.
$(OBJS): $(wildcard src/*.h src/core/*.h)
