# Shared helpers for the lab's POSIX sh commands (sourced: . "${0%/*}/_lib.sh").
# The .mjs twin is _lib.mjs; both follow the contract in lab/README.md.

# lab_log_mutation ARGV... : one {"time","host","argv"} line in $LAB_HOST_DIR/mutations.jsonl.
lab_log_mutation() {
  lab_now=$(/bin/date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
  awk -v time="$lab_now" -v host="$LAB_HOST" 'function q(s,   out, i, c) {
      # char by char: gsub replacement escaping differs between mawk and gawk
      out = ""
      for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c == "\\") c = "\\\\"; else if (c == "\"") c = "\\\""
        else if (c == "\n") c = "\\n"; else if (c == "\t") c = "\\t"; else if (c == "\r") c = "\\r"
        out = out c
      }
      return "\"" out "\""
    }
    BEGIN {
      line = "{\"time\":" q(time) ",\"host\":" q(host) ",\"argv\":["
      for (i = 1; i < ARGC; i++) line = line (i > 1 ? "," : "") q(ARGV[i])
      print line "]}"
      exit
    }' "$@" >>"$LAB_HOST_DIR/mutations.jsonl"
}

# lab_mutating : from here on, a cut session (SIGHUP/SIGTERM when the client dies, SIGPIPE on its
# closed output) no longer stops the command, so a change and its mutation-log line are made
# together: a client killed between them would leave a change the log never saw, and a test that
# counts mutations after a kill -9 would read a done change as never made.
lab_mutating() {
  trap '' HUP INT TERM PIPE
}

# lab_service_state NAME : prints running|stopped; returns 1 when the host has no such service.
lab_service_state() {
  [ -f "$LAB_HOST_DIR/services/$1" ] || return 1
  read -r lab_state <"$LAB_HOST_DIR/services/$1"
  printf '%s\n' "$lab_state"
}

# lab_set_service NAME STATE : writes through a temp file so readers never see an empty file.
lab_set_service() {
  printf '%s\n' "$2" >"$LAB_HOST_DIR/services/.$1.$$" && mv -f "$LAB_HOST_DIR/services/.$1.$$" "$LAB_HOST_DIR/services/$1"
}

# lab_request_power REQUEST [HOST] : reboot|halt|on|off, acted on by the lab server once the
# command that asked (LAB_SESSION, line 2) has finished.
lab_request_power() {
  lab_target="$LAB_ROOT/hosts/${2:-$LAB_HOST}/power"
  mkdir -p "$lab_target" && printf '%s\n%s\n' "$1" "${LAB_SESSION:-}" >"$lab_target/.request.$$" && mv -f "$lab_target/.request.$$" "$lab_target/request"
}

# lab_service_hook NAME start|stop : after a service changes state, lets the domain simulation
# follow (lab/sim/xen/NAME-service.mjs when it exists: open-iscsi logs sessions out and in).
lab_service_hook() {
  lab_hook="${LAB_BIN:-${0%/*}}/../sim/xen/$1-service.mjs"
  if [ -f "$lab_hook" ]; then node "$lab_hook" "$2"; fi
  return 0
}
