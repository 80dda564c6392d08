#!/bin/sh
# enter.sh LABROOT HOST — runs $SSH_ORIGINAL_COMMAND on a running lab host from a real OpenSSH
# sshd (ForceCommand, or command="…" in authorized_keys): the same namespace, environment and
# simulated tools the lab's own ssh2 server gives a command, so the engine can be proven against
# the server users really have. Needs the lab up (it writes LABROOT/run/HOST.env) and the sshd
# user to be the lab's user (root, or the unprivileged owner of its user namespaces).
entry="$1/run/$2.env"
if [ ! -f "$entry" ]; then
  echo "lab host $2 is not running (no $entry)" >&2
  exit 255
fi
. "$entry"
command=${SSH_ORIGINAL_COMMAND:-exec /bin/sh}
if [ "$LAB_ROLE" = windows ]; then
  # Windows OpenSSH: cmd.exe /c COMMAND (exit codes keep their low 8 bits here).
  export LAB_CMDLINE="$command"
  command='exec node "$LAB_BIN/_wincmd.mjs"'
fi
export LAB_SESSION="sshd-$$"
# LAB_ENTER is `nsenter -t PID -m -p [-U …] -- [setpriv …]`: split on spaces on purpose.
# shellcheck disable=SC2086
exec $LAB_ENTER /bin/sh -c "$command"
