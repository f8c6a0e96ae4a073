# SPDX-License-Identifier: GPL-2.0
# Shared settings for riommu's scripts.  Source it; do not run it.

KVER=${KVER:-7.3}
RIOMMU_CACHE=${RIOMMU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/riommu}
export LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm-19/lib}
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '[riommu %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }
