#!/usr/bin/env bash
# FIX interoperability of examples/fix_session.rs with QuickFIX (Debian's
# libquickfix-dev, 1.15), both ways, over 127.0.0.1. Runnable by hand;
# needs g++ and libquickfix-dev (ci/setup.sh installs them). ~15 s.
#
# 1. corelane acceptor <- QuickFIX initiator (qf_initiator.cpp): Logon with
#    HeartBtInt=1, heartbeats both ways while idle, a TestRequest answered,
#    orders answered with execution reports (ack, partial fill, fill;
#    rejects), a forced gap on the QuickFIX side (its next MsgSeqNum jumps
#    by 5) recovered through corelane's ResendRequest and QuickFIX's
#    GapFill + resent orders, then the Logout handshake.
# 2. corelane initiator -> QuickFIX acceptor (qf_acceptor.cpp): the same
#    flow the other way, with the forced gap on the corelane side (its
#    outbound MsgSeqNum skips 3 after order 50), recovered through
#    QuickFIX's ResendRequest and corelane's GapFill + resent orders.
#
# Each process runs under `timeout`; any failed check exits non-zero. The
# QuickFIX logs (FileLogPath) are printed on failure. QuickFIX 1.15 has no
# setting for the acceptor's bind address: in part 2 it listens on all
# interfaces, on a random high port, for the few seconds of the run; so
# the script runs itself in a network namespace with only loopback where
# it can (below). The
# data dictionary is off (UseDataDictionary=N): the Debian package ships no
# FIX44.xml.
#
# Exit status: 0 pass, 1 fail, 0 with "skipped" when io_uring is
# unavailable (the example exits 77) or QuickFIX is not installed and
# FIX_INTEROP_REQUIRED is unset.
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/../.."
# QuickFIX 1.15's acceptor binds every interface (it has no bind-address
# setting). Where a network namespace can be made (root, or unprivileged
# user namespaces), the whole run happens in one of its own whose only
# interface is loopback, so nothing listens beyond 127.0.0.1; elsewhere
# it says so and runs as is. (Nothing here needs the network: the
# crates are already fetched by the time CI runs this.)
if [ -z "${QF_NETNS:-}" ]; then
  if unshare -rn sh -c 'ip link set lo up' 2>/dev/null; then
    exec env QF_NETNS=1 unshare -rn bash -c 'ip link set lo up && exec bash "$0"' "$self"
  fi
  echo "quickfix interop: no network namespace here: part 2's QuickFIX acceptor binds all interfaces"
else
  echo "quickfix interop: in a network namespace of its own (only loopback)"
fi
target="${CARGO_TARGET_DIR:-target}"

if [ ! -f /usr/include/quickfix/Application.h ]; then
  if [ -n "${FIX_INTEROP_REQUIRED:-}" ]; then
    echo "quickfix interop: libquickfix-dev is not installed" >&2
    exit 1
  fi
  echo "quickfix interop: skipped: libquickfix-dev is not installed (ci/setup.sh installs it)"
  exit 0
fi

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "quickfix interop: FAIL: $*" >&2
  for f in "$work"/*.out "$work"/*.err "$work"/log-*/*.log; do
    [ -s "$f" ] || continue
    echo "----- $f (last 40 lines)" >&2
    tail -n 40 "$f" | tr '\001' '|' >&2
  done
  exit 1
}

echo "quickfix interop: building the QuickFIX side (g++ -std=c++14) and the example"
for prog in qf_initiator qf_acceptor; do
  g++ -std=c++14 -O1 -Wall -Wno-deprecated -o "$work/$prog" "tests/quickfix/$prog.cpp" \
    -lquickfix -lpthread
done
cargo build --quiet --example fix_session
ex="$target/debug/examples/fix_session"

# ----- 1. corelane acceptor <- QuickFIX initiator ---------------------------------
timeout 60 "$ex" --acceptor --once --port 0 --no-pin --deadline 50 \
  --sender-comp-id CORELANE --target-comp-id QFINIT >"$work/acceptor.out" 2>"$work/acceptor.err" &
acceptor=$!
pids+=("$acceptor")
port=""
for _ in $(seq 100); do
  port="$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/acceptor.out")"
  [ -n "$port" ] && break
  if ! kill -0 "$acceptor" 2>/dev/null; then break; fi
  sleep 0.1
done
if [ -z "$port" ]; then
  rc=0
  wait "$acceptor" || rc=$?
  if [ "$rc" = 77 ]; then
    echo "quickfix interop: skipped: $(cat "$work/acceptor.err")"
    exit 0
  fi
  fail "the corelane acceptor did not start (status $rc)"
fi
cat >"$work/initiator.cfg" <<CFG
[DEFAULT]
ConnectionType=initiator
HeartBtInt=1
ReconnectInterval=1
FileLogPath=$work/log-initiator
FileStorePath=$work/store-initiator
StartTime=00:00:00
EndTime=00:00:00
UseDataDictionary=N
ResetOnLogon=Y
SocketNodelay=Y
[SESSION]
BeginString=FIX.4.4
SenderCompID=QFINIT
TargetCompID=CORELANE
SocketConnectHost=127.0.0.1
SocketConnectPort=$port
CFG
echo "quickfix interop: 1. QuickFIX initiator -> corelane acceptor on 127.0.0.1:$port"
rc=0
timeout 45 "$work/qf_initiator" "$work/initiator.cfg" 20 10 2>"$work/qf_initiator.err" || rc=$?
cat "$work/qf_initiator.err"
[ "$rc" = 0 ] || fail "qf_initiator exited with $rc"
rc=0
wait "$acceptor" || rc=$?
cat "$work/acceptor.out"
[ "$rc" = 0 ] || fail "the corelane acceptor exited with $rc"

# ----- 2. corelane initiator -> QuickFIX acceptor ---------------------------------
orders=200
started=""
for _ in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 40000))
  cat >"$work/acceptor.cfg" <<CFG
[DEFAULT]
ConnectionType=acceptor
FileLogPath=$work/log-acceptor
FileStorePath=$work/store-acceptor
StartTime=00:00:00
EndTime=00:00:00
UseDataDictionary=N
ResetOnLogon=Y
SocketReuseAddress=Y
SocketNodelay=Y
[SESSION]
BeginString=FIX.4.4
SenderCompID=QFACC
TargetCompID=CORELANE
SocketAcceptPort=$port
CFG
  timeout 60 "$work/qf_acceptor" "$work/acceptor.cfg" "$orders" 1 \
    >"$work/qf_acceptor.out" 2>"$work/qf_acceptor.err" &
  qfa=$!
  pids+=("$qfa")
  for _ in $(seq 50); do
    if grep -q listening "$work/qf_acceptor.out" 2>/dev/null; then started=1; break; fi
    kill -0 "$qfa" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$started" ] && break
done
[ -n "$started" ] || fail "the QuickFIX acceptor did not start"
echo "quickfix interop: 2. corelane initiator -> QuickFIX acceptor on 127.0.0.1:$port"
rc=0
timeout 45 "$ex" --initiator --quick --port "$port" --no-pin --orders "$orders" --window 16 \
  --idle 2 --skip-seq 50 --deadline 40 --sender-comp-id CORELANE --target-comp-id QFACC \
  >"$work/initiator.out" 2>"$work/initiator.err" || rc=$?
cat "$work/initiator.out" "$work/initiator.err"
[ "$rc" = 0 ] || fail "the corelane initiator exited with $rc"
rc=0
wait "$qfa" || rc=$?
cat "$work/qf_acceptor.err"
[ "$rc" = 0 ] || fail "qf_acceptor exited with $rc"
echo "quickfix interop: PASS"
