# shellcheck shell=bash
# Shared by localstack/up, down and status (sourced, not run). Bash only.
# Everything that names a process goes through a PID file in $ls_run, and a PID is only
# trusted when that process runs from our venv: a stale file whose PID was reused by an
# unrelated program is never signalled.

ls_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ls_venv="$ls_here/.venv"
ls_run="$ls_here/run"
# shellcheck disable=SC2034 # used by the scripts that source this file
ls_names=(moto ministack)

# The port a name should use: the one it was started on if it runs, else the env override or default.
ls_port() { # name
  local f="$ls_run/$1.port"
  if [ -f "$f" ] && ls_pid "$1" >/dev/null; then cat "$f"; return; fi
  case $1 in
    moto) echo "${FTCTL_MOTO_PORT:-4568}" ;;
    ministack) echo "${FTCTL_MINISTACK_PORT:-4567}" ;;
  esac
}

ls_health_url() { # name port
  case $1 in
    moto) echo "http://127.0.0.1:$2/moto-api/" ;;
    ministack) echo "http://127.0.0.1:$2/_ministack/health" ;;
  esac
}

ls_answers() { # url
  curl -fs -o /dev/null --max-time 2 "$1"
}

# Alive and not a zombie (a zombie still answers kill -0 when its parent does not reap it).
ls_alive() { # pid
  local stat
  stat="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1
  [ -n "$stat" ] && [[ $stat != Z* ]]
}

# PID recorded for name, if that process is alive and is one of ours; prints it.
ls_pid() { # name
  local f="$ls_run/$1.pid" pid
  [ -f "$f" ] || return 1
  pid="$(cat "$f")"
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  ls_alive "$pid" || return 1
  ps -o args= -p "$pid" 2>/dev/null | grep -qF "$ls_venv/" || return 1
  echo "$pid"
}

# Something (anything) accepts connections on 127.0.0.1:port.
ls_port_busy() { # port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# TERM, up to ~10 s of grace, then KILL; by PID only.
ls_stop() { # name
  local pid
  if pid="$(ls_pid "$1")"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      ls_alive "$pid" || break
      sleep 0.2
    done
    if ls_alive "$pid"; then
      kill -9 "$pid" 2>/dev/null || true
      echo "localstack: $1 (pid $pid) ignored TERM for 10 s; killed"
    else
      echo "localstack: stopped $1 (pid $pid)"
    fi
  elif [ -f "$ls_run/$1.pid" ]; then
    echo "localstack: $1 was not running (removed a stale pid file)"
  fi
  rm -f "$ls_run/$1.pid" "$ls_run/$1.port"
}
