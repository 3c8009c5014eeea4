# The front door. Each target installs what is missing and (re)builds first,
# so `make run` and `make test` each work alone on a fresh Debian 12 machine.
BUILD ?= build
MESON_OPTS ?=
ifeq ($(CI),true)
MESON_OPTS += -Dwerror=true
endif

.PHONY: all deps build test test-nested run bench clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	@if [ "$(CI)" = "true" ]; then meson configure $(BUILD) -Dwerror=true; fi
	ninja -C $(BUILD)

# The nested matryoshka (tests/lab/nested) is not yet reliable within its
# time budget on a 2-core machine, so `make test` says so and leaves it to
# `make test-nested` instead of failing on it.
test: build
	@echo "make test: not run: lab_nested (nested matryoshka in the lab): not yet reliable within its time budget; run it with 'make test-nested'"
	meson test -C $(BUILD) --print-errorlogs --num-processes 2 --no-suite lab-nested

test-nested: build
	meson test -C $(BUILD) --print-errorlogs --suite lab-nested

run: build
	scripts/run-default-guest.sh $(BUILD)

bench: build
	bench/boot $(BUILD)

clean:
	rm -rf $(BUILD)
