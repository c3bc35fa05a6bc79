# Tern — build, run, test.  See README.md.
#   make            build build/tern
#   make run        install missing packages, build, set up run/, start the server
#   make test       install missing packages, build, run every test (unit, e2e, fuzz smoke)
#   make fuzz       build the libFuzzer targets into build/fuzz/
#   make install    install the binary, the sample config, man pages and the
#                   systemd unit (PREFIX, DESTDIR, BINDIR, MANDIR, SYSCONFDIR,
#                   UNITDIR; README.md, "Installing")
#   SANITIZE=address,undefined   build into build/san/ with sanitizers

CC       ?= cc
PREFIX   ?= /usr/local
DESTDIR  ?=
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
# systemd reads units from /usr/local/lib/systemd/system too; a package
# for /usr sets UNITDIR=/lib/systemd/system.
UNITDIR  ?= $(PREFIX)/lib/systemd/system
SANITIZE ?=
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)

WARN     = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wmissing-prototypes \
           -Wno-unused-parameter
CFLAGS  ?= -O2 -g
# libpq's headers: Debian puts them in /usr/include/postgresql.
PQ_CFLAGS = -I/usr/include/postgresql
CFLAGS  += -std=gnu17 $(WARN) -D_GNU_SOURCE -pthread -Isrc $(PQ_CFLAGS) -MMD -MP
LDLIBS   = -lssl -lcrypto -lsqlite3 -lpq -lcrypt -ljansson -lcurl -lz -lunbound -pthread

ifneq ($(SANITIZE),)
BUILD    = build/san
# GCC 12 with ASan at -O1 reports a bogus "null format string" on
# vsnprintf(NULL, 0, ...): that one warning is off in this build only.
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -O1 -Wno-format-truncation
LDFLAGS += -fsanitize=$(SANITIZE)
else
BUILD    = build
endif

SRCS      := $(sort $(wildcard src/*/*.c))
MAIN_SRC  := src/main/main.c
LIB_SRCS  := $(filter-out $(MAIN_SRC),$(SRCS))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ  := $(MAIN_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRCS := $(sort $(wildcard tests/unit/test_*.c))
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRCS := $(sort $(wildcard fuzz/fuzz_*.c))

.PHONY: all run test unit e2e fuzz fuzz-smoke install manlint clean deps bench

all: $(BUILD)/tern

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libtern.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tern: $(MAIN_OBJ) $(BUILD)/libtern.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/test.h $(BUILD)/libtern.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(BUILD)/libtern.a $(LDLIBS)

deps:
	@scripts/deps.sh

run:
	@scripts/deps.sh run
	$(MAKE) -j$(JOBS) all
	@scripts/run.sh

# The whole suite: a plain build (the shipped binary), a sanitizer build for
# the unit and end-to-end tests, and a short fuzz run.  tests/run.sh prints
# the final "N passed, N failed" line and sets the exit status.
test: deps
	$(MAKE) -j$(JOBS) all
	$(MAKE) -j$(JOBS) SANITIZE=address,undefined build/san/tern $(TEST_BINS:build/%=build/san/%)
	$(MAKE) -j$(JOBS) fuzz
	@tests/run.sh

unit: all $(TEST_BINS)
	@for t in $(TEST_BINS); do $$t || exit 1; done

# libFuzzer targets, built with clang against the library sources.
FUZZ_CFLAGS = -std=gnu17 -D_GNU_SOURCE -pthread -Isrc $(PQ_CFLAGS) -g -O1 -fno-omit-frame-pointer
FUZZ_SAN    = -fsanitize=address,undefined
FUZZ_OBJS  := $(LIB_SRCS:%.c=build/fuzz/obj/%.o)
fuzz: $(FUZZ_SRCS:fuzz/%.c=build/fuzz/%)

build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

build/fuzz/libtern.a: $(FUZZ_OBJS)
	@rm -f $@
	ar rcs $@ $^

build/fuzz/%: fuzz/%.c build/fuzz/libtern.a
	clang $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< build/fuzz/libtern.a $(LDLIBS)

fuzz-smoke: fuzz
	@tests/fuzz-smoke.sh

# Builds the release binary and the load generator; the benchmarks
# themselves are run by hand (bench/README.md), never by make test.
bench: all
	$(MAKE) -C bench

$(BUILD)/tern.service: etc/tern.service.in
	@mkdir -p $(dir $@)
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< > $@

# The sample config is installed as tern.conf.sample, always (so it
# follows the version installed); tern.conf itself is never written here:
# tern init writes it and refuses to overwrite one.
install: all $(BUILD)/tern.service
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/tern $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR)
	install -m 0755 $(BUILD)/tern $(DESTDIR)$(BINDIR)/tern
	install -m 0644 etc/tern.conf $(DESTDIR)$(SYSCONFDIR)/tern/tern.conf.sample
	install -m 0644 man/tern.8 $(DESTDIR)$(MANDIR)/man8/tern.8
	install -m 0644 man/tern.conf.5 $(DESTDIR)$(MANDIR)/man5/tern.conf.5
	install -m 0644 $(BUILD)/tern.service $(DESTDIR)$(UNITDIR)/tern.service

# The man pages: mandoc -T lint (a test dependency, scripts/deps.sh).
manlint:
	mandoc -T lint -W warning man/tern.8 man/tern.conf.5

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(MAIN_OBJ:.o=.d) $(FUZZ_OBJS:.o=.d)
