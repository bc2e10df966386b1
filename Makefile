# One non-recursive makefile for the whole suite. See README.md for the two
# commands a user needs: `make run` and `make test`.

BUILD    ?= build
SERVICES := broker gateway customers search notes company notify exchange
TOOLS    := crmctl
CC       ?= cc
CFLAGS   ?= -O2 -g
# override: a CFLAGS given on the command line (make asan) keeps the warnings.
override CFLAGS += -std=c11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
            -Wno-missing-field-initializers -fno-strict-aliasing
override CPPFLAGS += -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Ilibshared -I$(BUILD)/gen \
            -I/usr/include/postgresql -MMD -MP
LDLIBS   += -lprotobuf-c -lzmq -lpq -ljansson -lutf8proc -lsodium -lcurl -lpthread -lm
LDLIBS_gateway := -lmicrohttpd
LDLIBS_search := -licui18n -licuuc -licudata
LDLIBS_exchange := -lcsv -lxlsxwriter -lexpat -lz
LDLIBS_notes := -lz

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

PROTO_C  := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(wildcard proto/*.proto))
PROTO_H  := $(PROTO_C:.c=.h)
TPROTO_C := $(patsubst tests/unit/proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(wildcard tests/unit/proto/*.proto))
SHARED_O := $(call obj,$(wildcard libshared/*.c)) $(PROTO_C:.c=.o)

UNIT_SRC   := $(wildcard tests/unit/*.c) $(wildcard tests/unit/*/*.c)
UNIT_BIN   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
ALL_O      := $(SHARED_O) $(call obj,$(wildcard services/*/*.c)) $(call obj,$(UNIT_SRC)) \
              $(TPROTO_C:.c=.o) $(call obj,$(wildcard tests/bench/*.c))

.PHONY: all check asan asan-all memcheck clang-check format format-check clean run test bench integration deps compdb fuzz fuzz-bins \
        analyze analyze-scan analyze-cppcheck tidy
all: $(SERVICES:%=$(BUILD)/bin/%) $(TOOLS:%=$(BUILD)/bin/%)

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(@D)
	protoc-c --proto_path=proto --c_out=$(BUILD)/gen $<
$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: tests/unit/proto/%.proto
	@mkdir -p $(@D)
	protoc-c --proto_path=tests/unit/proto --proto_path=proto --c_out=$(BUILD)/gen $<
$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<
$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<
$(BUILD)/%.a:
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^
$(BUILD)/libshared.a: $(SHARED_O)

# The first build generates every header before compiling anything.
$(ALL_O): | $(PROTO_H) $(TPROTO_C:.c=.h)

# Per program: logic in an archive (unit tests link it), main.o apart.
define program
$(1)_O := $$(call obj,$$(filter-out %/main.c,$$(wildcard services/$(1)/*.c)))
$(BUILD)/services/$(1).a: $$($(1)_O)
$(BUILD)/bin/$(1): $(BUILD)/services/$(1)/main.o $(BUILD)/services/$(1).a $(BUILD)/libshared.a
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS_$(1)) $$(LDLIBS)
endef
$(foreach s,$(SERVICES) $(TOOLS),$(eval $(call program,$(s))))

# Unit tests: tests/unit/test_x.c links libshared (and the test protos);
# tests/unit/<svc>/test_x.c links that service's archive first.
$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(TPROTO_C:.c=.o) $(BUILD)/libshared.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
define unit_svc
$(BUILD)/tests/unit/$(1)/%.o: override CPPFLAGS += -Iservices/$(1)
$(BUILD)/tests/$(1)/test_%: $(BUILD)/tests/unit/$(1)/test_%.o $(BUILD)/services/$(1).a $(BUILD)/libshared.a
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS_$(1)) $$(LDLIBS)
endef
$(foreach s,$(SERVICES),$(eval $(call unit_svc,$(s))))

# The search index in process (tests/bench/search.sh runs it too).
$(BUILD)/tests/bench/%.o: override CPPFLAGS += -Iservices/search
$(BUILD)/bin/search_index_bench: $(BUILD)/tests/bench/search_index_bench.o $(BUILD)/services/search.a \
                                 $(BUILD)/libshared.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_search) $(LDLIBS)

# The gateway's OpenAPI document takes its descriptions from the .proto
# comments: protoc-c keeps them in a descriptor set (source info), and
# protodoc_gen.py writes them as a C table. Its unit test has a fixture proto.
PYTHON3 ?= /usr/bin/python3
PROTO_FILES := $(wildcard proto/*.proto)
$(BUILD)/gen/protodoc.desc: $(PROTO_FILES)
	@mkdir -p $(@D)
	protoc-c --proto_path=proto --include_source_info --descriptor_set_out=$@ $(PROTO_FILES)
$(BUILD)/gen/protodoc_fixture.desc: tests/unit/gateway/protodoc_fixture.proto
	@mkdir -p $(@D)
	protoc-c --proto_path=$(<D) --include_source_info --descriptor_set_out=$@ $<
$(BUILD)/gen/protodoc.c: $(BUILD)/gen/protodoc.desc services/gateway/protodoc_gen.py
	$(PYTHON3) services/gateway/protodoc_gen.py $< $@ gateway_protodocs
$(BUILD)/gen/protodoc_fixture.c: $(BUILD)/gen/protodoc_fixture.desc services/gateway/protodoc_gen.py
	$(PYTHON3) services/gateway/protodoc_gen.py $< $@ protodoc_fixture
$(BUILD)/gen/protodoc.o $(BUILD)/gen/protodoc_fixture.o: override CPPFLAGS += -Iservices/gateway
$(BUILD)/services/gateway.a: $(BUILD)/gen/protodoc.o
$(BUILD)/tests/gateway/test_protodoc: $(BUILD)/gen/protodoc_fixture.o

# crmctl carries every service's migrations.
SQL_FILES := $(sort $(wildcard services/*/sql/*.sql))
$(BUILD)/gen/sql_bundle.c: $(SQL_FILES) services/crmctl/embed_sql.sh
	@mkdir -p $(@D)
	services/crmctl/embed_sql.sh $@ $(SQL_FILES)
$(BUILD)/bin/crmctl: $(BUILD)/gen/sql_bundle.o
$(BUILD)/gen/sql_bundle.o: override CFLAGS += -Wno-overlength-strings

units: $(UNIT_BIN)
check: $(UNIT_BIN) $(BUILD)/bin/search_index_bench
	@tests/run-unit.sh $(BUILD)

# Unit tests under AddressSanitizer and UndefinedBehaviorSanitizer.
ASAN_CFLAGS  := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
ASAN_LDFLAGS := -fsanitize=address,undefined
asan:
	$(MAKE) BUILD=build/asan CFLAGS="$(ASAN_CFLAGS)" LDFLAGS="$(ASAN_LDFLAGS)" check
# The services themselves under the sanitizers (make test runs the integration tests on them).
asan-all:
	$(MAKE) BUILD=build/asan CFLAGS="$(ASAN_CFLAGS)" LDFLAGS="$(ASAN_LDFLAGS)" all

# Everything built with clang too (warnings are errors there as well), in build/clang.
clang-check:
	$(MAKE) BUILD=build/clang CC=clang all units

# ---- Static analysis -----------------------------------------------------------
# `make analyze` (a part of make test): any report fails it.
# - analyze-scan: the clang static analyzer (scan-build, clang 14) over a fresh
#   build of everything `make all units` builds, in $(ANALYZE_BUILD); the
#   generated protobuf-c, protodoc and SQL-bundle code is left out. HTML
#   reports in $(ANALYZE_BUILD)/scan.
# - analyze-cppcheck: cppcheck (warning, performance, portability) with the
#   Makefile's -D flags and include paths; suppressions (each with its reason)
#   in tests/analyze/cppcheck-suppressions.txt, inline ones say why beside them.
# - tidy: clang-tidy with .clang-tidy (the checks, and why the others are out).
# A finding that is a false positive is answered in the code (an assert stating
# the invariant, or the code said so the tool follows it), not by switching the
# check off; docs/operations.md, "Tests", says more.
ANALYZE_BUILD ?= build/analyze
SCAN_BUILD    ?= scan-build-14
CPPCHECK      ?= cppcheck
ANALYZE_SRC_DIRS := libshared services tests/unit
ANALYZE_JOBS  ?= 2
# One tool after the other (readable output), each run even when one failed.
analyze:
	@rc=0; for t in analyze-scan analyze-cppcheck tidy; do \
	    $(MAKE) --no-print-directory $$t || rc=1; done; \
	[ $$rc -eq 0 ] && echo "analyze: no reports" || echo "analyze: FAILED"; exit $$rc
analyze-scan:
	rm -rf $(ANALYZE_BUILD)
	$(SCAN_BUILD) --status-bugs -o $(ANALYZE_BUILD)/scan --exclude $(ANALYZE_BUILD)/gen \
	    $(MAKE) --no-print-directory -j$(ANALYZE_JOBS) BUILD=$(ANALYZE_BUILD) all units
# Without the system headers (cppcheck's library files describe libc, libcurl
# and zlib instead), so the protobuf-c version check is given its values.
analyze-cppcheck: $(PROTO_H) $(TPROTO_C:.c=.h)
	@mkdir -p $(BUILD)/cppcheck
	$(CPPCHECK) -q -j$(ANALYZE_JOBS) --error-exitcode=1 --enable=warning,performance,portability \
	    --std=c11 --library=gnu --library=libcurl --library=zlib --inline-suppr \
	    --suppressions-list=tests/analyze/cppcheck-suppressions.txt \
	    --cppcheck-build-dir=$(BUILD)/cppcheck \
	    --template='{file}:{line}: {severity} ({id}): {message}' \
	    -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DPROTOBUF_C_VERSION_NUMBER=1004001 \
	    -DPROTOBUF_C_MIN_COMPILER_VERSION=1000000 -DPROTOBUF_C__BEGIN_DECLS= \
	    -DPROTOBUF_C__END_DECLS= -Ilibshared -I$(BUILD)/gen $(patsubst %/,-I%,$(wildcard services/*/)) \
	    $(ANALYZE_SRC_DIRS)
	@echo "cppcheck: no reports"
tidy: $(PROTO_H) $(TPROTO_C:.c=.h)
	@TIDY_JOBS=$(ANALYZE_JOBS) tests/analyze/tidy.sh $(BUILD)

memcheck: $(UNIT_BIN)
	@for t in $(UNIT_BIN); do valgrind -q --leak-check=full --error-exitcode=1 $$t >/dev/null || exit 1; done; echo "memcheck: OK"

deps:
	@compose/install-deps.sh

run: deps all
	@compose/run.sh $(BUILD)

test: deps
	@tests/run-all.sh

integration: deps all
	@tests/integration/run.sh $(BUILD)

# Each benchmark starts its own throw-away stack; all run even if one fails.
BENCHES := $(wildcard tests/bench/run.sh tests/bench/search.sh tests/bench/history.sh \
                            tests/bench/company.sh tests/bench/exchange.sh tests/bench/notify.sh \
                            tests/bench/curve.sh tests/bench/prices.sh)
bench: deps all $(BUILD)/bin/search_index_bench
	@rc=0; for b in $(BENCHES); do $$b $(BUILD) || rc=1; done; exit $$rc

FORMAT_SRC = $(wildcard libshared/*.[ch] services/*/*.[ch] tests/unit/*.c tests/unit/*/*.c \
               tests/bench/*.c)
format:
	clang-format -i $(FORMAT_SRC)
format-check:
	clang-format --dry-run -Werror $(FORMAT_SRC)

compdb:
	bear -- $(MAKE) -B all units

clean:
	rm -rf build

# ---- Fuzzing (libFuzzer) -------------------------------------------------------
# Both targets build every tests/fuzz/fuzz_*.c with clang, libFuzzer, ASan and
# UBSan into $(FUZZ_BUILD)/bin (a sub-make with BUILD=$(FUZZ_BUILD) instruments
# libshared and the service archives too); any crash, leak, sanitizer report or
# failed property check fails the target, its input saved in
# $(FUZZ_BUILD)/crashes. FUZZ_FLAGS adds libFuzzer options to both.
#
# `make fuzz-check` (what make test runs, through tests/fuzz/check.sh) comes out
# the same on every run: per target it replays each file of
# tests/fuzz/corpus/<target>, then fuzzes FUZZ_CHECK_RUNS inputs
# (FUZZ_CHECK_RUNS_<target> where set) from -seed=1 on a fresh copy of that
# corpus: a count of runs, not a time limit, so the machine's speed changes
# nothing. The script says what else that takes. Each target is a few seconds.
#
# `make fuzz` is the open-ended search: each target for FUZZ_SECONDS on its own
# copy of tests/fuzz/corpus/<target> in $(FUZZ_BUILD)/corpus, kept between
# runs so coverage accumulates locally; only crashes someone commits grow the
# repository's corpus. See tests/fuzz/README.md for running one target longer.
FUZZ_BUILD      ?= build/fuzz
FUZZ_SECONDS    ?= 20
FUZZ_CHECK_RUNS ?= 5000
FUZZ_CHECK_RUNS_fuzz_search ?= 1000
FUZZ_FLAGS      ?=
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_NAMES    := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_O        := $(call obj,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_ARCHIVES := $(BUILD)/services/gateway.a $(BUILD)/services/customers.a \
                 $(BUILD)/services/search.a $(BUILD)/services/notes.a \
                 $(BUILD)/services/exchange.a $(BUILD)/services/notify.a $(BUILD)/libshared.a
FORMAT_SRC    += $(wildcard tests/fuzz/*.[ch])

# Only meaningful inside the sub-make below (CC=clang, sanitizer CFLAGS).
$(FUZZ_O): | $(PROTO_H)
$(FUZZ_O): override CPPFLAGS += -Itests/fuzz -Iservices/gateway -Iservices/customers \
                                  -Iservices/search -Iservices/notes -Iservices/exchange \
                                  -Iservices/notify
$(FUZZ_O): override CFLAGS += -fsanitize=fuzzer
$(BUILD)/bin/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_ARCHIVES)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fsanitize=fuzzer $(LDFLAGS) -o $@ $^ $(LDLIBS_gateway) $(LDLIBS_search) \
	    $(LDLIBS_exchange) $(LDLIBS)
.PHONY: fuzz-build fuzz-check
fuzz-bins: $(FUZZ_NAMES:%=$(BUILD)/bin/%)
fuzz-build:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=clang CFLAGS="-g -O1 -fsanitize=fuzzer-no-link $(FUZZ_SAN)" \
	    LDFLAGS="$(FUZZ_SAN)" fuzz-bins

# Two tests per target, replay and seeded run; the last line is "N passed, N failed".
fuzz-check: fuzz-build
	@FUZZ_FLAGS="$(FUZZ_FLAGS)" tests/fuzz/check.sh $(FUZZ_BUILD) \
	    $(foreach t,$(FUZZ_NAMES),$(t):$(or $(FUZZ_CHECK_RUNS_$(t)),$(FUZZ_CHECK_RUNS)))

fuzz: fuzz-build
	@export ASAN_OPTIONS="$${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1}" \
	    UBSAN_OPTIONS="$${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"; \
	mkdir -p $(FUZZ_BUILD)/crashes $(FUZZ_BUILD)/logs; failed=0; \
	for t in $(FUZZ_NAMES); do \
	    corpus=$(FUZZ_BUILD)/corpus/$$t; log=$(FUZZ_BUILD)/logs/$$t.log; \
	    mkdir -p $$corpus; cp -R tests/fuzz/corpus/$$t/. $$corpus/; \
	    dict=; [ -f tests/fuzz/$$t.dict ] && dict=-dict=tests/fuzz/$$t.dict; \
	    if $(FUZZ_BUILD)/bin/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	        -artifact_prefix=$(FUZZ_BUILD)/crashes/$$t- $$dict $(FUZZ_FLAGS) $$corpus >$$log 2>&1; then \
	        echo "fuzz: $$t OK ($$(grep -o 'Done [0-9]* runs' $$log | tail -1), corpus $$(ls $$corpus | wc -l))"; \
	    else \
	        failed=$$((failed + 1)); tail -n 40 $$log; \
	        echo "fuzz: $$t FAILED (log $$log, input in $(FUZZ_BUILD)/crashes/)"; \
	    fi; \
	done; \
	echo "fuzz: $$(( $(words $(FUZZ_NAMES)) - failed )) passed, $$failed failed"; [ $$failed -eq 0 ]

-include $(FUZZ_O:.o=.d)
# ---- end of fuzzing -----------------------------------------------------------

-include $(ALL_O:.o=.d) $(BUILD)/gen/protodoc.d $(BUILD)/gen/protodoc_fixture.d
