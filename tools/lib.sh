# SPDX-License-Identifier: GPL-2.0
# Shared settings for riommu's scripts.  Source it; do not run it.

KVER=${KVER:-7.3}
RIOMMU_CACHE=${RIOMMU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/riommu}
export LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm-19/lib}
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '[riommu %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# modcycle DIR MODULE [TAIL]: copy the load/unload cycle test
# (tools/testing/selftests/riommu/riommu_modcycle.sh) to
# DIR/modcycle-MODULE.shTAIL, a name it takes its module from (tools/vm.sh
# passes no arguments; TAIL, e.g. .arm64, keeps result rows apart), and
# print that path.
modcycle() {
	local dst=$1/modcycle-$2.sh${3:-}
	mkdir -p "$1" &&
		cp "$(dirname "${BASH_SOURCE[0]}")/testing/selftests/riommu/riommu_modcycle.sh" "$dst" &&
		echo "$dst"
}
