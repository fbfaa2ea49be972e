#!/usr/bin/env bash
# Path validation beside OpenSSL in the same run: criterion's figure for an RSA-2048 chain
# of three validated with revocation required against a cached 10,000-entry CRL, and
# `openssl speed rsa2048` for the two signature verifications each validation needs.
# Prints the lines recorded in docs/BENCHMARKS.md. Usage: scripts/bench-validate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v openssl >/dev/null || { echo "openssl is required: apt-get install openssl" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 2; }

echo "== openssl speed rsa2048 (same machine, same run)" >&2
verify_rate=$(openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print $NF}')

echo "== criterion (cargo bench -p cachet-pki --bench validate)" >&2
cargo bench -p cachet-pki --bench validate -- --noplot >&2

python3 - "$verify_rate" <<'PY'
import json, sys
verify = float(sys.argv[1])
def rate(name):
    with open(f"target/criterion/validate/{name}/new/estimates.json") as f:
        return 1e9 / json.load(f)["mean"]["point_estimate"]
plain = rate("rsa2048-chain3-crl10000")
cached = rate("rsa2048-chain3-crl10000-sigcache")
# Two RSA-2048 certificate signatures per validation (leaf by issuing CA, issuing CA by
# root); the CRL signatures are verified once per CRL and remembered.
bound = verify / 2
print(f"openssl speed rsa2048: verify {verify:,.0f}/s -> two verifications: {bound:,.0f} validations/s at most")
print(f"validate RSA-2048 chain of 3, revocation required, 10,000-entry CRL: {plain:,.0f}/s per core "
      f"= {plain / bound:.2f}x the two-verification bound")
print(f"  with the gateway's SignatureCache (no signature verified): {cached:,.0f}/s per core "
      f"= {cached / bound:.2f}x that bound")
PY
