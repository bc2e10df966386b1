# One non-recursive makefile for the whole suite. See README.md for the two
# commands a user needs: `make run` and `make test`.

BUILD    ?= build
SERVICES := broker gateway customers
TOOLS    := crmctl
CC       ?= cc
CFLAGS   ?= -O2 -g
# override: a CFLAGS given on the command line (make asan) keeps the warnings.
override CFLAGS += -std=c11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
            -Wno-missing-field-initializers -fno-strict-aliasing
override CPPFLAGS += -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Ilibshared -I$(BUILD)/gen \
            -I/usr/include/postgresql -MMD -MP
LDLIBS   += -lprotobuf-c -lzmq -lpq -ljansson -lutf8proc -lsodium -lpthread -lm
LDLIBS_gateway := -lmicrohttpd

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

PROTO_C  := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(wildcard proto/*.proto))
PROTO_H  := $(PROTO_C:.c=.h)
TPROTO_C := $(patsubst tests/unit/proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(wildcard tests/unit/proto/*.proto))
SHARED_O := $(call obj,$(wildcard libshared/*.c)) $(PROTO_C:.c=.o)

UNIT_SRC   := $(wildcard tests/unit/*.c) $(wildcard tests/unit/*/*.c)
UNIT_BIN   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
ALL_O      := $(SHARED_O) $(call obj,$(wildcard services/*/*.c)) $(call obj,$(UNIT_SRC)) \
              $(TPROTO_C:.c=.o)

.PHONY: all check asan memcheck format format-check clean run test bench integration deps compdb
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

# crmctl carries every service's migrations.
SQL_FILES := $(sort $(wildcard services/*/sql/*.sql))
$(BUILD)/gen/sql_bundle.c: $(SQL_FILES) services/crmctl/embed_sql.sh
	@mkdir -p $(@D)
	services/crmctl/embed_sql.sh $@ $(SQL_FILES)
$(BUILD)/bin/crmctl: $(BUILD)/gen/sql_bundle.o
$(BUILD)/gen/sql_bundle.o: override CFLAGS += -Wno-overlength-strings

units: $(UNIT_BIN)
check: $(UNIT_BIN)
	@tests/run-unit.sh $(BUILD)

# Unit tests under AddressSanitizer and UndefinedBehaviorSanitizer.
asan:
	$(MAKE) BUILD=build/asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    LDFLAGS="-fsanitize=address,undefined" check

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

bench: deps all
	@tests/bench/run.sh $(BUILD)

FORMAT_SRC = $(wildcard libshared/*.[ch] services/*/*.[ch] tests/unit/*.c tests/unit/*/*.c)
format:
	clang-format -i $(FORMAT_SRC)
format-check:
	clang-format --dry-run -Werror $(FORMAT_SRC)

compdb:
	bear -- $(MAKE) -B all units

clean:
	rm -rf build

-include $(ALL_O:.o=.d)
