# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2154 # sourced by the bash tools; $results is theirs
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

# The helpers of the check scripts (tools/check*.sh).  record and step write
# to the TSV file named by the caller's $results; stage and stage_end
# append "NAME SECONDS" lines to the caller's times array.
riommu_tools=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# tap ARGS...: tools/tap.py.
tap() { python3 "$riommu_tools/tap.py" "$@"; }
# record NAME RC [NOTE]: one pass/fail result.
record() { tap check "$1" "$2" "${3:-}" --results "$results"; }
# step NAME LOG CMD...: run CMD with its output in LOG, record pass/fail;
# on failure show the end of LOG.
step() {
	local name=$1 logf=$2 rc=0
	shift 2
	"$@" >"$logf" 2>&1 || rc=$?
	record "$name" $rc
	if [ $rc != 0 ]; then
		log "FAILED: $name (exit status $rc); the end of $logf:"
		tail -n 25 "$logf" | sed 's/^/    /' >&2
	fi
	return $rc
}
t_stage=0 stage_name=
# stage NAME: start timing a stage (ends the previous one).
stage() {
	stage_end
	stage_name=$1
	t_stage=$(date +%s)
	log "== $1"
}
stage_end() {
	if [ -n "$stage_name" ]; then
		times+=("$(printf '%-12s %5ds' "$stage_name" $(($(date +%s) - t_stage)))")
		log "   $stage_name took $(($(date +%s) - t_stage))s"
	fi
	stage_name=
}
# matplotlib_python: prints a python3 that can import matplotlib (for
# tools/bench/plot.py), or fails.  Debian's python3-matplotlib is for
# /usr/bin/python3, which an earlier python3 on PATH (pyenv...) may not see.
matplotlib_python() {
	local py
	for py in python3 /usr/bin/python3; do
		if command -v "$py" >/dev/null && "$py" -c 'import matplotlib' 2>/dev/null; then
			echo "$py"
			return 0
		fi
	done
	return 1
}

# arm64_src_copy TOP DST: TOP's sources into DST for an arm64 module build
# (tools/check-arm64.sh, make bench's SMMUv3 part), without TOP's build
# products: the x86_64 objects and the generated bindings, which are per
# architecture.  The copy keeps its own, so arm64 builds are incremental.
arm64_src_copy() {
	rsync -a --delete --exclude /build --exclude /.git --exclude target \
		--exclude '*.o' --exclude '*.ko' --exclude '.*.cmd' --exclude '*.mod' \
		--exclude '*.mod.c' --exclude /rust/riommu/gen --exclude modules.order \
		--exclude Module.symvers "$1/" "$2/"
}
