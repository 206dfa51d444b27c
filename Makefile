# Lampy: `make run` and `make test` are all a fresh machine needs (they install what is missing).
BUILD     ?= build
VENV      := .venv
PY        := $(VENV)/bin/python
MESON     := meson
NINJA     := ninja

.PHONY: all deps build install run test test-c test-py test-asan test-tsan fuzz bench clean

all: build

deps:
	@./scripts/deps.sh

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD) --buildtype=release

build: deps $(BUILD)/build.ninja
	@$(NINJA) -C $(BUILD) >/dev/null || $(NINJA) -C $(BUILD)

# `make install PREFIX=/opt/lampy`: the CLI, liblampy.so/.a, lampy.h and lampy.pc (pkg-config).
PREFIX    ?= /usr/local
install: build
	@$(MESON) configure $(BUILD) -Dprefix=$(abspath $(PREFIX)) >/dev/null
	@$(MESON) install -C $(BUILD) --quiet --tags runtime,devel,cli

run: build
	@./scripts/run.sh $(BUILD)

test: build
	@./scripts/test.sh $(BUILD)

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer, and the pool under TSan.
test-asan: deps
	@./scripts/test-sanitize.sh

# libFuzzer harnesses (tests/fuzz; clang, ASan + UBSan, in build-fuzz): each runs FUZZ_SECONDS.
# New inputs collect in build-fuzz/corpus/<target>, crashes in build-fuzz/artifacts/<target>.
FUZZ_SECONDS ?= 60
fuzz: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) ./scripts/fuzz.sh run

bench: build
	@LAMPY_BENCH_DEPS=1 ./scripts/deps.sh
	@./scripts/bench.sh $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz
