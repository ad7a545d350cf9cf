# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# Shared by tools/demo and tools/test: what a fresh Debian 12 machine needs, installed when missing.

# Build and test dependencies (Debian 12 package names), used by the scripts that source this.
# shellcheck disable=SC2034
PROFD_BUILD_PACKAGES=(gcc libc6-dev meson ninja-build pkg-config libsystemd-dev check)
PROFD_RUNTIME_PACKAGES=(systemd dbus util-linux procps linux-perf python3)
PROFD_FUZZ_PACKAGES=(clang libclang-rt-14-dev)
PROFD_TEST_PACKAGES=(tini dumb-init python3-gi gir1.2-glib-2.0 libglib2.0-bin dbus-user-session tmux openssh-server openssh-client
                     valgrind)

log() {
        if [ -t 2 ]; then
                printf '\033[1m==> %s\033[0m\n' "$*" >&2
        else
                printf '==> %s\n' "$*" >&2
        fi
}

# ensure_packages PKG...: installs those of PKG that are not installed yet, with apt-get.
ensure_packages() {
        local missing=() pkg
        for pkg in "$@"; do
                if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
                        missing+=("$pkg")
                fi
        done
        [ ${#missing[@]} -eq 0 ] && return 0

        log "Installing missing packages: ${missing[*]}"
        local sudo=()
        if [ "$(id -u)" -ne 0 ]; then
                command -v sudo >/dev/null || { echo "error: need root or sudo to install: ${missing[*]}" >&2; return 1; }
                sudo=(sudo)
        fi
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# build DIR [MESON OPTIONS...]: configures DIR once (reconfigures when options change) and builds.
build() {
        local dir=$1
        shift
        if [ ! -f "$dir/build.ninja" ]; then
                meson setup "$dir" "$@"
        else
                meson configure "$dir" "$@" >/dev/null
        fi
        ninja -C "$dir"
}
