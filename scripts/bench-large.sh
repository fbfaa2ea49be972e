#!/usr/bin/env bash
# Large messages: `cachet smime` beside `openssl cms` on the same 1 GiB message, in the same
# run, alternating the two tools, each timed whole (wall seconds) with its peak memory
# (maximum resident set) by GNU time. Both write their output to a file in the same
# directory and both make it durable: Cachet syncs its output before renaming it into place,
# so OpenSSL's output is synced too (`sync FILE`, inside the timing); `sync` also runs between
# commands so one tool's write-back does not bill the other.
# Usage: scripts/bench-large.sh [SIZE_MIB] [ROUNDS]   (from the repository root; default 1024 3)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
rounds=${2:-3}
for need in openssl python3 /usr/bin/time; do
  command -v "$need" >/dev/null || { echo "$need is required (apt-get install openssl python3 time)" >&2; exit 2; }
done
cargo build --release -q -p cachet-cli
cachet=$PWD/target/release/cachet
work=$(mktemp -d -p "${TMPDIR:-/var/tmp}")
trap 'rm -rf "$work"' EXIT
cd "$work"
"$cachet" init --domain example.com --base-url http://pki.example.com >/dev/null
"$cachet" cert issue --email bob@example.com --profile encryption --key-type rsa-2048 --out-dir enc >/dev/null
"$cachet" cert issue --email alice@example.com --profile signing --key-type ecdsa-p256 --out-dir sig >/dev/null
"$cachet" ca chain | awk '/BEGIN/{n++} n==2' > root.pem
python3 - "$size_mib" <<'PY'
import sys
target = int(sys.argv[1]) << 20
line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod te\r\n"
head = (b"From: alice@example.com\r\nTo: bob@example.com\r\nSubject: large\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
block = line * 16384
with open("msg.eml", "wb") as f:
    f.write(head)
    n = len(head)
    while n + len(block) <= target:
        f.write(block)
        n += len(block)
    f.write((line * ((target - n) // len(line) + 1))[: target - n])
PY
# The inputs both tools read: Cachet's GCM message (16-byte tag, which OpenSSL reads) and
# Cachet's signed message.
"$cachet" smime encrypt --recipient enc/cert.pem --cipher aes-256-gcm --in msg.eml --out msg.enc
"$cachet" smime sign --cert sig/cert.pem --key sig/key.pem --chain sig/chain.pem --in msg.eml --out msg.sig

# run NAME TOOL CMD... : prints "NAME TOOL seconds kib"
run() {
  local name=$1 tool=$2
  shift 2
  sync
  /usr/bin/time -f "%e %M" -o t.txt "$@" >/dev/null 2>err.txt || { echo "$name $tool failed:" >&2; cat err.txt >&2; exit 1; }
  rm -f out.*
  echo "$name $tool $(cat t.txt)"
}
results=results.txt
: > "$results"
for ((i = 1; i <= rounds; i++)); do
  echo "round $i of $rounds" >&2
  run encrypt cachet "$cachet" smime encrypt --recipient enc/cert.pem --cipher aes-256-gcm --in msg.eml --out out.c >> "$results"
  run encrypt openssl sh -c 'openssl cms -encrypt -aes-256-gcm -in msg.eml -out out.o enc/cert.pem && sync out.o' >> "$results"
  run decrypt cachet "$cachet" smime decrypt --cert enc/cert.pem --key enc/key.pem --in msg.enc --out out.c >> "$results"
  run decrypt openssl sh -c 'openssl cms -decrypt -recip enc/cert.pem -inkey enc/key.pem -in msg.enc -out out.o && sync out.o' >> "$results"
  run sign cachet "$cachet" smime sign --cert sig/cert.pem --key sig/key.pem --chain sig/chain.pem --in msg.eml --out out.c >> "$results"
  run sign openssl sh -c 'openssl cms -sign -signer sig/cert.pem -inkey sig/key.pem -certfile sig/chain.pem -in msg.eml -out out.o && sync out.o' >> "$results"
  run verify cachet "$cachet" smime verify --trust root.pem --in msg.sig >> "$results"
  run verify openssl openssl cms -verify -CAfile root.pem -purpose any -in msg.sig -out out.o >> "$results"
done
python3 - "$results" "$size_mib" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
size = sys.argv[2]
print(f"| {size} MiB message | Cachet (median s, peak MiB) | openssl cms (median s, peak MiB) | speed-up |")
print("|---|---|---|---|")
for op in ("encrypt", "decrypt", "sign", "verify"):
    t = {tool: [float(r[2]) for r in rows if r[0] == op and r[1] == tool] for tool in ("cachet", "openssl")}
    m = {tool: max(int(r[3]) for r in rows if r[0] == op and r[1] == tool) for tool in ("cachet", "openssl")}
    c, o = statistics.median(t["cachet"]), statistics.median(t["openssl"])
    print(f"| {op} | {c:.2f} s, {m['cachet'] / 1024:.0f} MiB | {o:.2f} s, {m['openssl'] / 1024:.0f} MiB | {o / c:.1f}x |")
PY
