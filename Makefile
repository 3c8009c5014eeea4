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

test: build
	meson test -C $(BUILD) --print-errorlogs --num-processes 2

# Only the nested matryoshka in the lab (also part of `make test`).
test-nested: build
	meson test -C $(BUILD) --print-errorlogs --suite lab-nested

run: build
	scripts/run-default-guest.sh $(BUILD)

bench: build
	bench/boot $(BUILD)

clean:
	rm -rf $(BUILD)
