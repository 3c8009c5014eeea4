#!/usr/bin/env bash
# Install the Debian packages mvm needs to build, test and run, but only
# those missing, so that a second `make` costs nothing.
set -euo pipefail

packages=(
	# build
	meson ninja-build pkg-config gcc libc6-dev
	liburing-dev libjson-c-dev libfdt-dev
	# seccomp filters
	libseccomp-dev
	# the API server (HTTP on a UNIX socket)
	libmicrohttpd-dev
	# user-mode networking (--net user, MMDS); slirp.pc asks for glib's
	libslirp-dev libglib2.0-dev
	# tests and fuzzing
	libcriterion-dev clang
	# dtc: the tests read a snapshot's state file (an FDT) back with it
	device-tree-compiler
	# the API tests read api/openapi.yaml
	libyaml-dev
	# default guest and the lab: kernel extraction, initramfs, emulator
	busybox-static cpio kmod xz-utils zstd qemu-system-x86 qemu-utils
	# the Intel lab (tests/lab/lab-run --intel): Bochs emulates VMX and
	# EPT, and boots from a FAT image with SYSLINUX on it
	bochs bochs-term bochsbios vgabios syslinux syslinux-common mtools dosfstools
	# benchmarks (GNU time reports peak RSS; fio is bench/blk's host baseline);
	# python3 also gives the Intel lab's Bochs its terminal (tests/lab/pty-drain)
	time python3 fio
	# networking tests (namespaces, taps)
	iproute2
)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "installing: ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
	echo "error: packages missing (${missing[*]}) and not root; install them with apt-get" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
