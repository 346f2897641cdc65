#!/bin/sh
# netns-exec.sh - run a command "on" a fake host made by scripts/netns-up.sh: in its
# network namespace (its IP, its /etc/hosts) with its own hostname (UTS namespace).
# Like ssh, the words after HOST are joined and run by sh, so it can serve as Open
# MPI's rsh agent. A simple command (no ; & | < > or newlines) is exec'ed, so the pid
# of this script becomes the command's pid (a test can kill -9 "the launcher").
# Usage:  scripts/netns-exec.sh HOST CMD [ARGS...]   e.g. netns-exec.sh tnode2 hostname -I
[ $# -ge 2 ] || { echo "usage: netns-exec.sh HOST CMD [ARGS...]" >&2; exit 2; }
h=$1; shift
case "$*" in
  *[\;\&\|\<\>]*|*'
'*) run='eval "$1"' ;;
  *) run='eval "exec $1"' ;;
esac
exec ip netns exec "$h" unshare --uts sh -c "hostname \"\$0\" && $run" "$h" "$*"
