#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything riommu needs on a Debian bookworm machine.  Idempotent
# and quiet when nothing is missing.  Called by `make run` and `make check`.
#
# What it does:
#   - adds bookworm-backports (QEMU 10.0) and trixie-backports (linux-source-7.3)
#     apt sources, re-using the mirror the machine is already configured with;
#   - installs the build/runtime Debian packages;
#   - unpacks linux-source-7.3 into the riommu cache (see tools/lib.sh);
#   - installs rust-src and bindgen-cli.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

need_root() {
	if [ "$(id -u)" != 0 ]; then
		if command -v sudo >/dev/null; then
			sudo "$@"
		else
			die "need root for: $*"
		fi
	else
		"$@"
	fi
}

PKGS=(qemu-system-x86 qemu-system-arm libclang-19-dev clang-19 lld-19 llvm-19
	busybox-static flex bison bc libelf-dev libssl-dev cpio libcap-dev
	gcc-aarch64-linux-gnu make gcc python3 kmod xz-utils rsync shellcheck
	libc6-dev-arm64-cross # arm64: static test programs (tools/check-arm64.sh)
	python3-matplotlib) # tools/bench/plot.py: make bench's cost-growth plots

missing_pkgs() {
	local p
	for p in "${PKGS[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || echo "$p"
	done
}

qemu_is_new() {
	local v
	v=$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null || true)
	case "$v" in 1:10.*) return 0 ;; *) return 1 ;; esac
}

add_apt_sources() {
	local f=/etc/apt/sources.list.d/riommu.sources uri
	[ -f "$f" ] && return 1
	# Re-use the Debian mirror this machine already uses.
	uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
	if [ -z "$uri" ]; then
		uri=$(awk '/^deb / && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
	fi
	[ -n "$uri" ] || die "cannot find the Debian mirror in the apt configuration"
	log "adding bookworm-backports and trixie-backports apt sources ($f)"
	need_root tee "$f" >/dev/null <<EOF
Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $uri
Suites: trixie-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	# Never install anything from trixie by accident: only linux-source is
	# downloaded from there, and unpacked by hand.
	need_root tee /etc/apt/preferences.d/riommu-trixie >/dev/null <<EOF
Package: *
Pin: release n=trixie-backports
Pin-Priority: 1
EOF
	return 0
}

install_packages() {
	local miss updated=0
	if add_apt_sources; then
		need_root apt-get update -qq
		updated=1
	fi
	miss=$(missing_pkgs | tr '\n' ' ')
	if [ -n "$miss" ] || ! qemu_is_new; then
		[ $updated = 1 ] || need_root apt-get update -qq
		log "installing Debian packages: ${miss:-qemu from backports}"
		# -t: QEMU 10.0 (and its data packages) come from bookworm-backports.
		need_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			-o Dpkg::Use-Pty=0 --no-install-recommends \
			-t bookworm-backports "${PKGS[@]}" >/dev/null
	fi
}

unpack_kernel_source() {
	local dst="$RIOMMU_CACHE/src/linux-$KVER" tmp deb tarball
	[ -f "$dst/Makefile" ] && return 0
	log "fetching linux-source-$KVER"
	tmp=$(mktemp -d)
	chmod 755 "$tmp" # apt-get download runs as _apt
	(cd "$tmp" && apt-get download -qq "linux-source-$KVER" >/dev/null) ||
		{ need_root apt-get update -qq && (cd "$tmp" && apt-get download -qq "linux-source-$KVER"); }
	deb=$(find "$tmp" -maxdepth 1 -name "linux-source-${KVER}_*.deb" | head -n1)
	dpkg-deb -x "$deb" "$tmp/x"
	tarball=$(find "$tmp/x/usr/src" -maxdepth 1 -name "linux-source-$KVER.tar.*" | head -n1)
	log "unpacking $(basename "$tarball")"
	mkdir -p "$RIOMMU_CACHE/src"
	rm -rf "$dst.tmp"
	mkdir -p "$dst.tmp"
	tar -xaf "$tarball" -C "$dst.tmp" --strip-components=1
	mv "$dst.tmp" "$dst"
	rm -rf "$tmp"
}

install_rust() {
	if ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
		log "rustup component add rust-src"
		rustup component add rust-src >/dev/null
	fi
	# tools/vmm-client runs in the arm64 guest: a static aarch64 binary.
	if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
		log "rustup target add aarch64-unknown-linux-gnu"
		rustup target add aarch64-unknown-linux-gnu >/dev/null
	fi
	if ! bindgen_ok; then
		log "cargo install bindgen-cli 0.72.1"
		LIBCLANG_PATH=$LIBCLANG_PATH cargo install -q bindgen-cli --locked --version 0.72.1
	fi
}

bindgen_ok() {
	local v
	command -v bindgen >/dev/null || return 1
	v=$(bindgen --version 2>/dev/null | awk '{print $2}')
	# Need >= 0.71.1.
	[ "$(printf '%s\n0.71.1\n' "$v" | sort -V | head -n1)" = 0.71.1 ]
}

# >>> arm64 (tools/check-arm64.sh) >>>
# The arm64 guest's busybox: Debian's busybox-static for arm64, unpacked
# (never installed) into $RIOMMU_CACHE/arm64/busybox.  apt needs the arm64
# architecture for that download (only its package lists are added).
install_arm64_busybox() {
	local dst="$RIOMMU_CACHE/arm64/busybox" tmp deb
	[ -x "$dst" ] && return 0
	log "fetching busybox-static:arm64"
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		need_root dpkg --add-architecture arm64
		need_root apt-get update -qq
	fi
	tmp=$(mktemp -d)
	chmod 755 "$tmp" # apt-get download runs as _apt
	(cd "$tmp" && apt-get download -qq busybox-static:arm64 >/dev/null 2>&1) ||
		{ need_root apt-get update -qq && (cd "$tmp" && apt-get download -qq busybox-static:arm64); }
	deb=$(find "$tmp" -maxdepth 1 -name 'busybox-static_*_arm64.deb' | head -n1)
	dpkg-deb -x "$deb" "$tmp/x"
	mkdir -p "$(dirname "$dst")"
	install -m 755 "$tmp/x/bin/busybox" "$dst"
	rm -rf "$tmp"
}
# <<< arm64 <<<

install_packages
install_rust
install_arm64_busybox
if [ -z "${KDIR:-}" ]; then
	unpack_kernel_source
fi
