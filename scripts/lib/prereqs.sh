# shellcheck shell=bash
# scripts/lib/prereqs.sh - checks of what a fresh machine must have before lgb's
# scripts can work, sourced by scripts/quickstart, test, fuzz and infra-check. Each
# check takes well under a second and, when something is missing, names it and the
# command that installs it, so a script fails in seconds rather than twenty minutes
# into a build. The README's "Prerequisites" lists the same things.
#
#   source scripts/lib/prereqs.sh
#   prereq_check cargo nightly go python root   # exits 1 naming every missing one

# The oldest versions the scripts are known to need.
PREREQ_PYTHON_MIN=3.9 # lgb-py's abi3 floor (pyo3 abi3-py39)
PREREQ_GO_MIN=1.21    # first Go that fetches the toolchain a go.mod asks for

# The apt-get command for PACKAGE..., with sudo when not root.
prereq_apt() {
    if [[ $(id -u) == 0 ]]; then
        printf 'apt-get install -y %s' "$*"
    else
        printf 'sudo apt-get install -y %s' "$*"
    fi
}

# Prints nothing and returns 0 when WHAT is present; otherwise prints what is missing
# and how to install it, and returns 1.
prereq_one() {
    local what=$1 v
    case "$what" in
    cargo)
        if ! command -v cargo >/dev/null 2>&1 || ! command -v rustup >/dev/null 2>&1; then
            echo "Rust (cargo and rustup): install rustup from https://rustup.rs, then: rustup toolchain install stable"
            return 1
        fi
        ;;
    nightly)
        if ! command -v rustup >/dev/null 2>&1 || ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
            echo "Rust nightly (cargo-fuzz needs it): rustup toolchain install nightly"
            return 1
        fi
        ;;
    go)
        local go=""
        if command -v go >/dev/null 2>&1; then
            go=$(command -v go)
        elif [[ -x /usr/local/go/bin/go ]]; then
            go=/usr/local/go/bin/go
        fi
        v=$([[ -n $go ]] && "$go" env GOVERSION 2>/dev/null | sed 's/^go//')
        if [[ -z $v ]] || ! prereq_version_ge "$v" "$PREREQ_GO_MIN"; then
            echo "Go $PREREQ_GO_MIN or newer${v:+ (found $v)} (builds immudb, the Lambda emulator and OpenTofu): https://go.dev/doc/install (Debian 12's golang-go is 1.19, too old)"
            return 1
        fi
        ;;
    python)
        local py=${LGB_PYTHON:-python3}
        v=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)
        if [[ -z $v ]] || ! prereq_version_ge "$v" "$PREREQ_PYTHON_MIN"; then
            echo "Python $PREREQ_PYTHON_MIN or newer as $py${v:+ (found $v)}: $(prereq_apt python3 python3-venv)"
            return 1
        fi
        if ! "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then
            echo "Python's venv module with pip ($py -m venv fails without it): $(prereq_apt python3-venv)"
            return 1
        fi
        ;;
    root)
        # Debian packages (chromium for the HTML report test) need root or sudo.
        if [[ $(id -u) != 0 ]] && ! sudo -n true >/dev/null 2>&1; then
            echo "root or password-less sudo (to install Debian's chromium): run as root, or allow sudo"
            return 1
        fi
        if ! command -v apt-get >/dev/null 2>&1; then
            echo "apt-get (the scripts install chromium from Debian's packages): a Debian or Ubuntu machine"
            return 1
        fi
        ;;
    tools)
        local t missing=()
        for t in curl flock sha256sum awk sed find mktemp timeout; do
            command -v "$t" >/dev/null 2>&1 || missing+=("$t")
        done
        if ((${#missing[@]})); then
            echo "basic tools ${missing[*]}: $(prereq_apt curl util-linux coreutils gawk sed findutils)"
            return 1
        fi
        ;;
    cc)
        # aws-lc-sys (the AWS SDKs' TLS) and ring compile C; cmake is not needed.
        if ! command -v cc >/dev/null 2>&1; then
            echo "a C compiler (cc): $(prereq_apt build-essential)"
            return 1
        fi
        ;;
    *)
        echo "prereqs: unknown prerequisite '$what'" >&2
        return 2
        ;;
    esac
}

# prereq_version_ge A B: true when version A >= B (dotted numbers).
prereq_version_ge() {
    [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]
}

# prereq_check NAME...: checks each; on any missing one prints all of them with
# their install commands to stderr and exits 1.
prereq_check() {
    local what msg missing=()
    for what in "$@"; do
        if ! msg=$(prereq_one "$what"); then
            missing+=("$msg")
        fi
    done
    if ((${#missing[@]})); then
        {
            echo "${0##*/}: this machine lacks what it needs:"
            for msg in "${missing[@]}"; do
                echo "  - $msg"
            done
            echo "(the README's \"Prerequisites\" lists everything)"
        } >&2
        exit 1
    fi
}
