# SPDX-License-Identifier: MIT
# bench/lib.sh: what the bench scripts share (sourced; $W is the work dir).

# run_timed OUTVAR_PREFIX CMD...: wall seconds and peak RSS (KiB) of CMD into
# ${OUTVAR_PREFIX}_s and ${OUTVAR_PREFIX}_kb; its output in $W/cmd.out, .err
run_timed() {
        local pfx=$1
        shift
        /usr/bin/time -f '%e %M' -o "$W/time.out" "$@" >"$W/cmd.out" 2>"$W/cmd.err" ||
                { echo "bench: failed: $*" >&2; cat "$W/cmd.err" >&2; return 1; }
        read -r "${pfx}_s" "${pfx}_kb" <"$W/time.out"
}
