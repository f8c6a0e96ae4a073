#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or reuse) the riommu test kernel.
#   tools/kernel.sh [ARCH]        ARCH: x86_64 (default) or arm64
#   tools/kernel.sh ARCH debug    the debug flavour: kernel/ARCH.config, then
#                                 kernel/ARCH-debug.config (KASAN, lockdep...),
#                                 built with LLVM=-19, cached apart (-debug)
# Prints the build directory (usable as KDIR) on stdout.
#
# Cache: $RIOMMU_CACHE/build/linux-$KVER-$ARCH.  The directory is reused
# across config changes so that a changed fragment rebuilds incrementally;
# the file .riommu-stamp inside records the hash of (kernel version,
# fragment, this script), and the build counts as done only when it matches.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

arch=${1:-x86_64}
flavour=${2:-}
case "$arch" in
x86_64) image=arch/x86/boot/bzImage; cross= ;;
arm64) image=arch/arm64/boot/Image; cross=aarch64-linux-gnu- ;;
*) die "unknown arch $arch" ;;
esac
frag="$top/kernel/$arch.config"
src="$RIOMMU_CACHE/src/linux-$KVER"
out="$RIOMMU_CACHE/build/linux-$KVER-$arch"
frags=("$frag") llvm=
case "$flavour" in
"") ;;
debug) frags+=("$top/kernel/$arch-debug.config") llvm=-19 out+=-debug
	[ -f "${frags[1]}" ] || die "no ${frags[1]}" ;;
*) die "unknown flavour $flavour" ;;
esac
[ -f "$src/Makefile" ] || die "no kernel source at $src: run tools/setup.sh"
hash=$( (echo "$KVER $arch${flavour:+ $flavour}"; cat "${frags[@]}" "$0") | sha256sum | cut -c1-16)

if [ -f "$out/.riommu-stamp" ] && [ "$(cat "$out/.riommu-stamp")" = "$hash" ] &&
	[ -f "$out/$image" ]; then
	echo "$out"
	exit 0
fi

mkdir -p "$out"
mk=(make -s -C "$src" O="$out" ARCH="$arch" ${cross:+CROSS_COMPILE=$cross} ${llvm:+LLVM=$llvm} "-j$(nproc)")
blog="$out/riommu-build.log"

log "kernel $KVER/$arch: configuring (tinyconfig + ${frags[*]#"$top/"}${llvm:+, LLVM=$llvm}, config $hash)"
"${mk[@]}" tinyconfig >"$blog" 2>&1 || { tail -n 30 "$blog" >&2; die "tinyconfig failed"; }
(cd "$out" && "$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${frags[@]}") >>"$blog" 2>&1
"${mk[@]}" olddefconfig >>"$blog" 2>&1 || { tail -n 30 "$blog" >&2; die "olddefconfig failed"; }

# Check that every option of the fragment landed.
bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*)
		if ! grep -qxF "$line" "$out/.config"; then
			log "config: wanted $line, got: $(grep -E "^(# )?${line%%=*}[= ]" "$out/.config" || echo unset)"
			bad=1
		fi ;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }; opt=${opt%% *}
		if grep -q "^$opt=" "$out/.config"; then
			log "config: wanted $opt off, got $(grep "^$opt=" "$out/.config")"
			bad=1
		fi ;;
	esac
done < <(cat "${frags[@]}")
[ $bad = 0 ] || die "the kernel config fragment did not apply (see above); is rustc/bindgen/libclang available? ('make -C $src O=$out rustavailable')"

log "kernel $KVER/$arch: building (log: $blog)"
start=$(date +%s)
# The heartbeat writes to stderr only: callers capture our stdout (the
# KDIR), and a sleeping heartbeat must not hold it open.
( while sleep 30; do
	log "  ... still building, $(( $(date +%s) - start ))s, $(find "$out" -name '*.o' -newer "$out/.config" 2>/dev/null | wc -l) objects so far"
done ) >&2 &
beat=$!
trap 'kill $beat 2>/dev/null || true' EXIT
if ! "${mk[@]}" all >>"$blog" 2>&1; then
	kill $beat 2>/dev/null || true
	grep -E 'error|Error' "$blog" | head -n 20 >&2
	die "kernel build failed, see $blog"
fi
kill $beat 2>/dev/null || true
log "kernel $KVER/$arch: installing uAPI headers"
"${mk[@]}" headers_install >>"$blog" 2>&1
log "kernel $KVER/$arch: built in $(( $(date +%s) - start ))s"
echo "$hash" >"$out/.riommu-stamp"
echo "$out"
