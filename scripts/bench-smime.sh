#!/usr/bin/env bash
# S/MIME signing and verification: `cachet bench` beside OpenSSL's C library doing the same
# operations in-process (scripts/peer/openssl_smime_bench.c, built here against libssl-dev),
# in the same run, with the same keys and messages. Prints a table of same-run ratios for
# docs/BENCHMARKS.md. Usage: scripts/bench-smime.sh [SECONDS]   (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-2}
for need in cc openssl python3; do command -v "$need" >/dev/null || { echo "$need is required" >&2; exit 2; }; done
[ -f /usr/include/openssl/cms.h ] || { echo "libssl-dev is required: apt-get install libssl-dev" >&2; exit 2; }
cargo build --release -q -p cachet-cli
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O2 -o "$work/peer" scripts/peer/openssl_smime_bench.c -lcrypto
cachet=$PWD/target/release/cachet
(
  cd "$work"
  "$cachet" init --domain example.com --base-url http://pki.example.com >/dev/null
  for kt in rsa-2048 ecdsa-p256; do
    "$cachet" cert issue --email "bench.$kt@example.com" --profile signing --key-type "$kt" --out-dir "$kt" >/dev/null
  done
  "$cachet" ca chain | awk '/BEGIN/{n++} n==1' > issuing.pem
  "$cachet" ca chain | awk '/BEGIN/{n++} n==2' > root.pem
  python3 - <<'PY'
line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod te\r\n"
for size in (10 * 1024, 1024 * 1024):
    m = b"From: bench@example.com\r\nTo: peer@example.com\r\nSubject: benchmark\r\n\r\n"
    while len(m) < size:
        m += line
    open(f"msg-{size}.eml", "wb").write(m[:size])
PY
)
echo "== cachet bench (same machine, same run)" >&2
"$cachet" bench sign verify verify-cached --seconds "$secs" --json > "$work/cachet.json"
echo "== OpenSSL C library, in-process" >&2
for op in sign verify; do
  for kt in rsa-2048 ecdsa-p256; do
    for size in 10240 1048576; do
      r=$(cd "$work" && ./peer "$op" "$kt/cert.pem" "$kt/key.pem" issuing.pem root.pem "msg-$size.eml" "$secs")
      echo "$op $kt $size $r"
    done
  done
done > "$work/openssl.txt"
python3 - "$work/cachet.json" "$work/openssl.txt" <<'PY'
import json, sys
cachet = {(r["operation"], r["key"], r["size"]): r for r in json.load(open(sys.argv[1]))}
print(f"{'operation':<8} {'key':<11} {'size':>8} {'cachet/s':>10} {'openssl/s':>10} {'ratio':>7} {'primitive/s':>12}")
for line in open(sys.argv[2]):
    op, key, size, rate = line.split()
    c = cachet[(op, key, int(size))]
    o = float(rate)
    print(f"{op:<8} {key:<11} {int(size):>8} {c['ops_per_sec']:>10.0f} {o:>10.0f} {c['ops_per_sec'] / o:>6.2f}x {c['primitive_ops_per_sec']:>12.0f}")
    if op == "verify":
        # The same verification with the CA-signature cache a long-running verifier (the
        # gateway) keeps; OpenSSL's CMS_verify has none.
        c = cachet[("verify-cached", key, int(size))]
        print(f"{'  cached':<8} {key:<11} {int(size):>8} {c['ops_per_sec']:>10.0f} {o:>10.0f} {c['ops_per_sec'] / o:>6.2f}x {c['primitive_ops_per_sec']:>12.0f}")
PY
