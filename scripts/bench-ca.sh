#!/usr/bin/env bash
# CA benchmarks beside OpenSSL in the same run: criterion's issuance and CRL figures, and
# `openssl speed` for the primitives they rest on. Prints a table of ratios for
# docs/BENCHMARKS.md. Usage: scripts/bench-ca.sh   (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v openssl >/dev/null || { echo "openssl is required: apt-get install openssl" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 2; }

echo "== openssl speed (same machine, same run)" >&2
speed=$(openssl speed -seconds 3 ecdsap256 2>/dev/null | grep -E '^ *256 bits ecdsa')
# "256 bits ecdsa (nistp256)   0.0000s   0.0001s  40000.0  13000.0"
sign_rate=$(awk '{print $(NF-1)}' <<<"$speed")
verify_rate=$(awk '{print $NF}' <<<"$speed")

echo "== criterion (cargo bench -p cachet-pki --bench issuance)" >&2
cargo bench -p cachet-pki --bench issuance -- --noplot >&2

python3 - "$sign_rate" "$verify_rate" <<'PY'
import json, sys
sign, verify = float(sys.argv[1]), float(sys.argv[2])
def mean_ns(name):
    with open(f"target/criterion/{name}/new/estimates.json") as f:
        return json.load(f)["mean"]["point_estimate"]
issue_ns = mean_ns("issue/ecdsa-p256")
crl_ns = mean_ns("crl/100000")
issue_rate = 1e9 / issue_ns
# An issuance signs once and, in the lint, verifies once: the primitive bound is
# 1 / (1/sign + 1/verify) at OpenSSL's rates.
bound = 1 / (1 / sign + 1 / verify)
print(f"openssl speed ecdsap256: sign {sign:,.0f}/s, verify {verify:,.0f}/s")
print(f"issuance (ECDSA P-256, build+sign+encode+parse+lint): {issue_rate:,.0f}/s per core "
      f"= {issue_rate / sign:.2f}x OpenSSL's sign rate, {issue_rate / bound:.2f}x the sign+verify bound ({bound:,.0f}/s)")
print(f"CRL of 100,000 entries built and signed: {crl_ns / 1e6:,.1f} ms "
      f"(= {crl_ns / 1e9 * sign:,.0f} OpenSSL P-256 signatures' time)")
PY
