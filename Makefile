# The front door. Each target installs what is missing and (re)builds first,
# so `make run` and `make test` each work alone on a fresh Debian 12 machine.
BUILD ?= build
# The ASan+UBSan build of `make test-sanitize`, a directory of its own.
SAN_BUILD ?= build-asan
MESON_OPTS ?=
ifeq ($(CI),true)
MESON_OPTS += -Dwerror=true
endif

.PHONY: all deps build test test-sanitize test-nested test-intel run bench clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	@if [ "$(CI)" = "true" ]; then meson configure $(BUILD) -Dwerror=true; fi
	ninja -C $(BUILD)

test: build
	meson test -C $(BUILD) --print-errorlogs --num-processes 2

# The unit and integration suites again, on an ASan+UBSan build (not the
# lab suites: minutes each, nor the fuzzers, which are built with
# libFuzzer and ASan+UBSan already). UBSan does not recover, so its
# first report ends the process. Both runtimes are linked statically: as
# gcc's two shared libraries, each keeps a report file of its own and
# UBSan's ignores log_path (its reports reach stderr only).
# scripts/sanitize-wrap.sh fails a test when any process it started
# reported anything, leaks included.
SAN_OPTS = -Db_sanitize=address,undefined -Db_lundef=false -Dlab=disabled \
	-Dc_args='-fno-sanitize-recover=all -fno-omit-frame-pointer' \
	-Dc_link_args='-static-libasan -static-libubsan'

$(SAN_BUILD)/build.ninja:
	meson setup $(SAN_BUILD) $(MESON_OPTS) $(SAN_OPTS)

test-sanitize: deps $(SAN_BUILD)/build.ninja
	@if [ "$(CI)" = "true" ]; then meson configure $(SAN_BUILD) -Dwerror=true; fi
	ninja -C $(SAN_BUILD)
	meson test -C $(SAN_BUILD) --print-errorlogs --num-processes 2 \
		--suite unit --suite integration \
		--wrapper $(CURDIR)/scripts/sanitize-wrap.sh

# Only the nested matryoshka in the lab (also part of `make test`).
test-nested: build
	meson test -C $(BUILD) --print-errorlogs --suite lab-nested

# Only nesting on Intel VMX in the Intel lab (also part of `make test`).
# `make test` (and CI) runs its parts 1 and 2 only; this runs all of it.
test-intel: build
	MVM_LAB_INTEL_FULL=1 meson test -C $(BUILD) --print-errorlogs --suite lab-intel

run: build
	scripts/run-default-guest.sh $(BUILD)

bench: build
	bench/boot $(BUILD)

clean:
	rm -rf $(BUILD) $(SAN_BUILD)
