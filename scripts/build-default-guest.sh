#!/bin/bash
# Build mvm's default guest from Debian packages alone: the kernel of the
# linux-image-cloud-amd64 metapackage and a busybox-static initramfs with
# guest/init and the modules of guest/modules.
#
# Usage: scripts/build-default-guest.sh OUTDIR
# Produces OUTDIR/vmlinuz (bzImage), OUTDIR/initrd.cpio.gz, OUTDIR/vmlinux
# (ELF with the PVH entry note, taken out of the bzImage) when possible,
# OUTDIR/busybox (static, also used by the lab to write cpio archives),
# OUTDIR/config, OUTDIR/info (what was built) and OUTDIR/stamp (cache key).
# Downloaded .debs are kept in $MVM_DEB_CACHE (default OUTDIR/debs).
set -euo pipefail

out=${1:?usage: $0 OUTDIR}
src=$(cd "$(dirname "$0")/.." && pwd)
init_file=$src/guest/init
modules_file=$src/guest/modules
mkdir -p "$out"
out=$(cd "$out" && pwd)
debs=${MVM_DEB_CACHE:-$out/debs}
mkdir -p "$debs"
start=$(date +%s.%N)
export DEBIAN_FRONTEND=noninteractive

# Lab runs may build the same guest at the same time.
exec 9>"$out/.lock"
flock 9

# A fresh machine may never have fetched package lists.
ensure_lists() {
	compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null || apt-get update -q >&2
}

# pkg_version PKG: the version apt would install now.
pkg_version() {
	apt-cache show --no-all-versions "$1" | sed -n 's/^Version: //p' | head -n1
}

# fetch PKG VERSION: print the path of the cached .deb, downloading it once.
fetch() {
	local f
	for f in "$debs/$1"_*.deb; do
		if [ -f "$f" ] && [ "$(dpkg-deb -f "$f" Version)" = "$2" ]; then
			echo "$f"
			return
		fi
	done
	# The sandbox user cannot write to an arbitrary cache folder.
	(cd "$debs" && apt-get download -q -o APT::Sandbox::User=root "$1=$2" >&2)
	for f in "$debs/$1"_*.deb; do
		if [ -f "$f" ] && [ "$(dpkg-deb -f "$f" Version)" = "$2" ]; then
			echo "$f"
			return
		fi
	done
	echo "build-default-guest: download of $1 $2 failed" >&2
	exit 1
}

# need COMMAND PACKAGE: install PACKAGE unless COMMAND is there.
need() {
	command -v "$1" >/dev/null ||
		apt-get install -y -q --no-install-recommends "$2" >&2
}

# Asking apt takes most of a second; its answer changes only with its lists,
# so it is kept along with their dates.
ensure_lists
lists=$(stat -c '%n %Y' /var/lib/apt/lists/*_Packages* | sha256sum | cut -d' ' -f1)
if [ -f "$out/resolved" ] && [ "$(sed -n 1p "$out/resolved")" = "$lists" ]; then
	{ read -r _ && read -r kpkg kver bver; } <"$out/resolved"
else
	kpkg=$(apt-cache depends linux-image-cloud-amd64 |
		sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n1)
	[ -n "$kpkg" ] || {
		echo "build-default-guest: no kernel behind linux-image-cloud-amd64" >&2
		exit 1
	}
	kver=$(pkg_version "$kpkg")
	bver=$(pkg_version busybox-static)
	printf '%s\n%s %s %s\n' "$lists" "$kpkg" "$kver" "$bver" >"$out/resolved"
fi

key=$({
	echo "kernel $kpkg $kver"
	echo "busybox $bver"
	sha256sum "$0" "$init_file" "$modules_file" | cut -d' ' -f1
} | sha256sum | cut -d' ' -f1)
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$key" ] &&
	[ -f "$out/vmlinuz" ] && [ -f "$out/initrd.cpio.gz" ]; then
	echo "build-default-guest: $out is up to date ($kpkg $kver)"
	exit 0
fi
rm -f "$out/stamp"

if ! kdeb=$(fetch "$kpkg" "$kver") || ! bdeb=$(fetch busybox-static "$bver"); then
	# Stale lists name packages the archive no longer has: refresh them once.
	[ -z "${MVM_APT_UPDATED:-}" ] || exit 1
	echo "build-default-guest: refreshing apt's package lists, then retrying" >&2
	apt-get update -q >&2
	rm -f "$out/resolved"
	MVM_APT_UPDATED=1 exec "$0" "$out"
fi
fetched=$(date +%s.%N)

work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$kdeb" "$work/kernel"
dpkg-deb -x "$bdeb" "$work/busybox"
release=$(basename "$(find "$work/kernel/lib/modules" -mindepth 1 -maxdepth 1)")
kdir=$work/kernel/lib/modules/$release
bb=$work/busybox/bin/busybox

# --- vmlinuz, config -------------------------------------------------------
cp "$work/kernel/boot/vmlinuz-$release" "$work/vmlinuz"
cp "$work/kernel/boot/config-$release" "$work/config"

# --- vmlinux --------------------------------------------------------------
# Debian ships no ELF vmlinux outside its huge -dbg package, but the bzImage
# payload is the (stripped) ELF vmlinux itself, compressed. The boot protocol
# header gives its place: setup_sects at 0x1f1, payload_offset/length at
# 0x248, relative to the protected-mode code after the setup sectors.
u8() { od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' '; }
u16() { od -An -tu2 -j "$2" -N 2 "$1" | tr -d ' '; }
u32() { od -An -tu4 -j "$2" -N 4 "$1" | tr -d ' '; }
u64() { od -An -tu8 -j "$2" -N 8 "$1" | tr -d ' '; }
pvh=no
vmlinux_note="not produced"
setup=$(u8 "$work/vmlinuz" $((0x1f1)))
[ "$setup" != 0 ] || setup=4
poff=$(($(u32 "$work/vmlinuz" $((0x248))) + (setup + 1) * 512))
plen=$(u32 "$work/vmlinuz" $((0x24c)))
dd if="$work/vmlinuz" of="$work/payload" bs=1M iflag=skip_bytes,count_bytes \
	skip="$poff" count="$plen" status=none
# Each decompressor tolerates, or is spared, the 4-byte size trailer.
magic=$(od -An -tx1 -N 4 "$work/payload" | tr -d ' ')
case $magic in
1f8b*) decomp=(gzip -dc) ;;
fd377a58) need xz xz-utils && decomp=(xz -dc --single-stream) ;;
28b52ffd) need zstd zstd && decomp=(zstd -dcq) ;;
02214c18) need lz4 lz4 && decomp=(lz4 -dc) ;;
*) decomp=() ;;
esac
if [ ${#decomp[@]} -eq 0 ]; then
	vmlinux_note="unknown bzImage payload compression (magic $magic)"
else
	head -c $((plen - 4)) "$work/payload" | "${decomp[@]}" >"$work/vmlinux.full" || true
	if [ "$(head -c 4 "$work/vmlinux.full" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
		# The decompressor's input also carries the relocation table after
		# the ELF; cut the file after its section headers.
		shoff=$(u64 "$work/vmlinux.full" $((0x28)))
		shentsize=$(u16 "$work/vmlinux.full" $((0x3a)))
		shnum=$(u16 "$work/vmlinux.full" $((0x3c)))
		head -c $((shoff + shentsize * shnum)) "$work/vmlinux.full" >"$work/vmlinux"
		# XEN_ELFNOTE_PHYS32_ENTRY (type 18) is the PVH entry point.
		if ! command -v readelf >/dev/null; then
			pvh=unknown
			vmlinux_note="extracted from the bzImage payload; no readelf to look for the PVH note"
		elif LC_ALL=C readelf -n "$work/vmlinux" |
			grep -Eq 'Xen.*(0x00000012|PHYS32_ENTRY)'; then
			pvh=yes
			vmlinux_note="extracted from the bzImage payload; has the PVH entry note"
		else
			vmlinux_note="extracted from the bzImage payload; no PVH note"
		fi
	else
		vmlinux_note="bzImage payload did not decompress to an ELF file"
	fi
	rm -f "$work/vmlinux.full"
fi
rm -f "$work/payload"

# --- initramfs ------------------------------------------------------------
root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,root,etc,lib/modules}
cp "$bb" "$root/bin/busybox"
for applet in $("$bb" --list); do
	[ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
install -m 755 "$init_file" "$root/init"

# Index the package's modules by normalised name ('-' and '_' alike).
declare -A path_of=() loaded=()
while IFS= read -r f; do
	n=$(basename "$f")
	n=${n%%.ko*}
	path_of[${n//-/_}]=$f
done < <(find "$kdir" -name '*.ko*')
declare -A builtin=()
while IFS= read -r f; do
	n=$(basename "$f" .ko)
	builtin[${n//-/_}]=1
done <"$kdir/modules.builtin"

# Make an uncompressed copy, as busybox insmod reads plain ELF only.
copy_ko() {
	case $1 in
	*.ko) cp "$1" "$2" ;;
	*.ko.xz) need xz xz-utils && xz -dc "$1" >"$2" ;;
	*.ko.zst) need zstd zstd && zstd -dcq "$1" >"$2" ;;
	*.ko.gz) gzip -dc "$1" >"$2" ;;
	esac
}

load_list=$root/lib/modules/load.list
: >"$load_list"
skipped=()
# add NAME [PARAMS...]: queue NAME after its dependencies.
add() {
	local name=${1//-/_} deps dep
	shift
	[ -z "${loaded[$name]:-}" ] || return 0
	if [ -n "${builtin[$name]:-}" ]; then
		skipped+=("$name(built-in)")
		loaded[$name]=1
		return 0
	fi
	if [ -z "${path_of[$name]:-}" ]; then
		skipped+=("$name(absent)")
		loaded[$name]=1
		return 0
	fi
	loaded[$name]=1
	copy_ko "${path_of[$name]}" "$root/lib/modules/$name.ko"
	deps=$(tr '\0' '\n' <"$root/lib/modules/$name.ko" |
		sed -n 's/^depends=//p' | head -n1 | tr ',' ' ')
	for dep in $deps; do
		add "$dep"
	done
	echo "$name.ko $*" >>"$load_list"
}
while read -r name params; do
	case $name in '' | '#'*) continue ;; esac
	# shellcheck disable=SC2086 # parameters are words on purpose
	add "$name" $params
done <"$modules_file"

(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
	"$bb" cpio -o -H newc -R 0:0 2>/dev/null) | gzip -6 >"$work/initrd.cpio.gz"

# --- publish ---------------------------------------------------------------
cp "$bb" "$work/busybox.bin"
{
	echo "kernel_package=$kpkg"
	echo "kernel_package_version=$kver"
	echo "kernel_release=$release"
	echo "busybox_version=$bver"
	echo "pvh=$pvh"
	echo "vmlinux=$vmlinux_note"
	echo "modules=$(cut -d' ' -f1 "$load_list" | sed 's/\.ko$//' | tr '\n' ' ')"
	echo "modules_skipped=${skipped[*]}"
} >"$work/info"
rm -f "$out/vmlinux"
mv "$work/vmlinuz" "$work/config" "$work/initrd.cpio.gz" "$work/info" "$out/"
mv "$work/busybox.bin" "$out/busybox"
[ ! -f "$work/vmlinux" ] || mv "$work/vmlinux" "$out/vmlinux"
echo "$key" >"$out/stamp"

end=$(date +%s.%N)
cat "$out/info"
awk -v s="$start" -v f="$fetched" -v e="$end" -v o="$out" 'BEGIN {
	printf "build-default-guest: built %s in %.1fs (%.1fs of it fetching)\n", o, e - s, f - s }'

