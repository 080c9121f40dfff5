# Sourced by the scripts that run the project's binaries: builds them and finds where cargo
# put them. Cargo decides that (CARGO_TARGET_DIR, build.target-dir in a .cargo/config.toml,
# the profile, a target triple), so the scripts ask it instead of assuming target/release.
#
#   source "$ROOT/scripts/lib/bins.sh"
#   build_bins --release --bin imserver --bin imload    # any `cargo build` arguments
#   IMSERVER=$(bin_path imserver)
#
# Needs only bash and sed: cargo's JSON messages are read for their "executable" field.

# Executables built, by file name (bins and examples alike).
declare -gA BINS=()

# build_bins ARGS...: `cargo build ARGS` in the project's root, recording every executable
# it built or found fresh. Compiler messages still go to stderr, rendered as usual.
build_bins() {
    local root json exe
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
    json="$(cd "$root" && cargo build --quiet --message-format=json-render-diagnostics "$@")" ||
        return 1
    while IFS= read -r exe; do
        [[ -n $exe ]] && BINS[$(basename "$exe")]=$exe
    done < <(sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' <<<"$json")
}

# bin_path NAME: the path of executable NAME from the last build_bins; fails, saying so,
# if that build did not make it.
bin_path() {
    local path="${BINS[$1]:-}"
    if [[ -z $path || ! -x $path ]]; then
        echo "${0##*/}: cargo built no executable named $1 (built: ${!BINS[*]})" >&2
        return 1
    fi
    echo "$path"
}
