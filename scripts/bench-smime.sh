#!/usr/bin/env bash
# S/MIME signing and verification: `cachet bench` beside OpenSSL's C library doing the same
# operations in-process (scripts/peer/openssl_smime_bench.c, built here against libssl-dev),
# in the same run, with the same keys and messages, in turns. Prints a table of same-run ratios
# (median of ROUNDS turns, default 3) for docs/BENCHMARKS.md.
# Usage: [ROUNDS=N] scripts/bench-smime.sh [SECONDS]   (from the repository root)
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
rounds=${ROUNDS:-3}
# Each row is measured in turns — Cachet, then OpenSSL, ROUNDS times — and the median of the
# per-turn ratios reported: on a shared machine the CPU's speed drifts from one minute to the
# next, and measuring all of one side before the other turned that drift into the ratio.
echo "== cachet bench and OpenSSL's C library in turns, $rounds rounds of ${secs}s" >&2
for op in sign verify; do
  for kt in rsa-2048 ecdsa-p256; do
    for size in 10240 1048576; do
      for round in $(seq "$rounds"); do
        ops=$op; [ "$op" = verify ] && ops="verify verify-uncached"
        # shellcheck disable=SC2086
        "$cachet" bench $ops --key-type "$kt" --size "$size" --seconds "$secs" --json \
          | python3 -c 'import json,sys; [print(r["operation"], r["key"], r["size"], r["ops_per_sec"], r["primitive_ops_per_sec"]) for r in json.load(sys.stdin)]'
        r=$(cd "$work" && ./peer "$op" "$kt/cert.pem" "$kt/key.pem" issuing.pem root.pem "msg-$size.eml" "$secs")
        echo "openssl-$op $kt $size $r 0"
      done
    done
  done
done > "$work/runs.txt"
python3 - "$work/runs.txt" "$rounds" <<'PY'
import sys, statistics
from collections import defaultdict
runs = defaultdict(list)
for line in open(sys.argv[1]):
    op, key, size, rate, prim = line.split()
    runs[(op, key, int(size))].append((float(rate), float(prim)))
med = statistics.median
print(f"{'operation':<10} {'key':<11} {'size':>8} {'cachet/s':>10} {'openssl/s':>10} {'ratio':>7} {'range':>13} {'primitive/s':>12}")
for (op, key, size), peer in runs.items():
    if not op.startswith("openssl-"):
        continue
    op = op[len("openssl-"):]
    for label, mine in [(op, op)] + ([("  uncached", "verify-uncached")] if op == "verify" else []):
        c = runs[(mine, key, size)]
        ratios = [a[0] / b[0] for a, b in zip(c, peer)]
        print(f"{label:<10} {key:<11} {size:>8} {med(r for r, _ in c):>10.0f} {med(r for r, _ in peer):>10.0f} "
              f"{med(ratios):>6.2f}x {min(ratios):>5.2f}-{max(ratios):.2f}x {med(p for _, p in c):>12.0f}")
PY
