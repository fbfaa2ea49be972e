#!/usr/bin/env bash
# Whole-process figures of `cachet serve` on loopback (issue #6), with the release build:
#   1. `cachet user import` of N accounts (default 10,000; ECDSA P-256, key recovery on, so
#      two certificates and one archived key per account) into a fresh SQLite data directory;
#   2. OCSP responses/s (POST; without a nonce, the cacheable case, and with one, which
#      signs every response), CRL fetches/s and certificate lookups/s, measured with `wrk`
#      (Debian package wrk) against one `cachet serve` on the same two cores.
# Usage: scripts/bench-serve.sh [ACCOUNTS] [SECONDS_PER_RUN]
set -euo pipefail
cd "$(dirname "$0")/.."
accounts=${1:-10000}
seconds=${2:-10}
for tool in wrk openssl; do
  command -v "$tool" >/dev/null || { echo "bench-serve: $tool is needed: apt-get install $tool" >&2; exit 2; }
done
cargo build --release -q -p cachet-cli
bin=$PWD/target/release/cachet
work=$(mktemp -d)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
cd "$work"
"$bin" init --data d --domain example.test --base-url "$base" >/dev/null 2>&1

python3 - "$accounts" > users.csv <<'EOF'
import sys
print("email,name")
for i in range(int(sys.argv[1])):
    print(f"user{i}@example.test,User {i}")
EOF
start=$(date +%s.%N)
"$bin" user import users.csv --data d >/dev/null
end=$(date +%s.%N)
python3 -c "import sys; n=int(sys.argv[1]); t=float(sys.argv[3])-float(sys.argv[2]); print(f'user import: {n} accounts in {t:.1f} s ({n/t:.0f} accounts/s, {2*n/t:.0f} certificates/s)')" "$accounts" "$start" "$end"

"$bin" serve --data d --listen "http=127.0.0.1:$port" 2> serve.log &
server=$!
for _ in $(seq 1 100); do grep -q "http listening" serve.log && break; sleep 0.1; done
grep -q "http listening" serve.log || { cat serve.log; exit 1; }

curl -s "$base/certs?email=user1@example.test" > user1.pem
"$bin" ca chain --data d > chain.pem
openssl x509 -in chain.pem -out issuing.pem
openssl ocsp -issuer issuing.pem -cert user1.pem -reqout nononce.der -no_nonce >/dev/null 2>&1 || true
openssl ocsp -issuer issuing.pem -cert user1.pem -reqout nonce.der >/dev/null 2>&1 || true
[ -s nononce.der ] && [ -s nonce.der ] || { echo "bench-serve: could not build OCSP requests" >&2; exit 1; }
# Sanity: the responder answers "good" for it.
openssl ocsp -issuer issuing.pem -cert user1.pem -url "$base/ocsp" -CAfile chain.pem 2>&1 | grep -q ": good" \
  || { echo "bench-serve: the OCSP responder does not answer good" >&2; exit 1; }

cat > post.lua <<'EOF'
local f = assert(io.open(os.getenv("OCSP_REQ"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
wrk.headers["Content-Type"] = "application/ocsp-request"
EOF

run() { # name, extra wrk args...
  local name=$1; shift
  local out
  out=$(wrk -t2 -c32 -d"${seconds}s" "$@")
  local rps errs
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '%-28s %10s req/s%s\n' "$name" "$rps" "${errs:+  ($errs non-2xx!)}"
}
echo "wrk -t2 -c32 -d${seconds}s, one cachet serve, loopback, $(nproc) cores:"
OCSP_REQ=$work/nononce.der run "OCSP POST (no nonce)" -s post.lua "$base/ocsp"
OCSP_REQ=$work/nonce.der run "OCSP POST (nonce, signed)" -s post.lua "$base/ocsp"
run "CRL GET /crl/issuing.crl" "$base/crl/issuing.crl"
run "lookup GET /certs?email=" "$base/certs?email=user1@example.test"
echo "openssl speed ecdsap256 (sign/s, 1 core) for scale:"
openssl speed -seconds 2 ecdsap256 2>/dev/null | awk '/256 bits ecdsa/ {print "  " $0}'
