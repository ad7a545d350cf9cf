#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Starts a profd session with busctl, follows it with gdbus monitor until it finishes, and prints
# the result and the Status of every process (docs/api.md).
#
#   start-and-follow.sh [--user] TARGET [ARGS...]
#
# busctl (systemd) makes the calls; gdbus (libglib2.0-bin) watches the signals, as any user can:
# `busctl monitor` needs root on the system bus, `gdbus monitor` only subscribes to signals.
set -euo pipefail

bus=--system
if [ "${1-}" = --user ]; then
        bus=--user
        shift
fi
[ $# -gt 0 ] || { echo "usage: start-and-follow.sh [--user] TARGET [ARGS...]" >&2; exit 2; }
gdbus_bus=${bus/--user/--session}

dest=org.profd.Profd1
busctl_() { busctl "$bus" --no-pager "$@"; }

# 1. Watch first, so no change is missed between the start and the subscription. gdbus monitor
#    prints a line once it has subscribed; the rest is read line by line below.
coproc MONITOR { exec gdbus monitor "$gdbus_bus" --dest "$dest" 2>&1; }
trap 'kill "$MONITOR_PID" 2>/dev/null || :' EXIT
read -r ready <&"${MONITOR[0]}"
case $ready in Monitoring*) ;; *) echo "gdbus monitor: $ready" >&2; exit 1 ;; esac

# 2. Start: the spec is a{sv}; busctl takes the count of entries, then key, type, value for each.
# "--": the target's arguments may start with a dash.
reply=$(busctl_ call -- "$dest" /org/profd/Profd1 org.profd.Profd1.Manager StartSession 'a{sv}' 2 \
        Target as $# "$@" \
        Description s "start-and-follow.sh")
# reply: so "7" "/org/profd/Profd1/session/7"
read -r _ id path <<<"$reply"
id=${id//\"/}
path=${path//\"/}
echo "session $id at $path"

# 3. Follow: the monitor prints each signal as a line, in the order the bus sent them:
#    /org/profd/Profd1/session/7: org.freedesktop.DBus.Properties.PropertiesChanged
#        ('org.profd.Profd1.Session', {'State': <'stopping-supporters'>, ...}, @as [])
#    gdbus monitor says it is ready a moment before the bus has its match rule, so once it has been
#    quiet for a second the state is asked for once: a change in that moment is not lost for good.
get_state() {
        busctl_ get-property "$dest" "$path" org.profd.Profd1.Session State | sed -E 's/^s "(.*)"$/\1/'
}
state=
show() {
        if [ "$1" != "$state" ]; then
                state=$1
                echo "state: $state"
        fi
}
wait_at_most=(-t 1)
while [ "$state" != finished ]; do
        if read -r "${wait_at_most[@]}" line <&"${MONITOR[0]}"; then
                case $line in
                "$path: org.freedesktop.DBus.Properties.PropertiesChanged ('org.profd.Profd1.Session', "*"'State': <'"*)
                        show "$(sed -E "s/.*'State': <'([a-z-]+)'>.*/\1/" <<<"$line")" ;;
                esac
        elif [ $? -gt 128 ]; then
                now=$(get_state)
                show "$now"
                wait_at_most=()
        else
                echo "gdbus monitor ended" >&2
                exit 1
        fi
done

# 4. The result, and everything Status says (--json=pretty for a script: jq can take it from there).
result=$(busctl_ get-property -- "$dest" "$path" org.profd.Profd1.Session Result | sed -E 's/^s "(.*)"$/\1/')
echo "result: $result"
busctl_ --json=pretty call -- "$dest" "$path" org.profd.Profd1.Session Status
[ "$result" = success ]
