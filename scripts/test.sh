#!/usr/bin/env bash
# Cachet's whole test suite, as CI runs it: installs the peer tools the interop tests drive
# (OpenSSL, NSS tools, GnuPG gpgsm, Bouncy Castle with a JDK, DigiCert pkilint), checks
# formatting and lints, then runs every test in one `cargo test` invocation. Works on a fresh
# Debian machine with the Rust toolchain; needs root (or sudo) only to install missing Debian
# packages.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian packages: command -> package.
declare -A debs=(
  [openssl]=openssl
  [certutil]=libnss3-tools
  [pk12util]=libnss3-tools
  [cmsutil]=libnss3-tools
  [gpgsm]=gpgsm
  [gpg-agent]=gpg-agent
  [gpgconf]=gpgconf
  # gpgsm finds certificates in the LDAP directory through dirmngr (crates/cli/tests/directory.rs).
  [dirmngr]=dirmngr
  [python3]=python3
  # GNU time measures the peak memory of large-message runs (crates/cli/tests/smime_large.rs).
  [/usr/bin/time]=time
  [javac]=default-jdk-headless
  [java]=default-jdk-headless
  # The LDAP directory (crates/cli/tests/directory.rs).
  [ldapsearch]=ldap-utils
  [ldapmodify]=ldap-utils
  # HTTP and EST over TLS (crates/cli/tests/serve.rs, est.rs).
  [curl]=curl
)
missing=()
for cmd in "${!debs[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${debs[$cmd]}")
done
# Bouncy Castle jars, which crates/cli/tests/smime_bc_interop.rs compiles its peer against.
declare -A jars=(
  [/usr/share/java/bcprov.jar]=libbcprov-java
  [/usr/share/java/bcpkix.jar]=libbcpkix-java
  [/usr/share/java/bcutil.jar]=libbcutil-java
)
for jar in "${!jars[@]}"; do
  [ -f "$jar" ] || missing+=("${jars[$jar]}")
done
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then missing+=(python3-venv); fi
# PostgreSQL server binaries: the service and serve suites start private clusters
# (crates/testkit) to run the same tests as on SQLite.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then missing+=(postgresql); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
fi

# Python tools in a private virtual environment (no system pip changes).
venv=target/pytools
if [ ! -x "$venv/bin/lint_cabf_smime_cert" ]; then
  echo "== installing pkilint into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check pkilint
fi
# Python ldap3 pages through the LDAP directory (crates/cli/tests/directory.rs).
if ! "$venv/bin/python" -c 'import ldap3' >/dev/null 2>&1; then
  echo "== installing ldap3 into $venv"
  "$venv/bin/pip" install -q --disable-pip-version-check ldap3==2.9.1
fi
export PATH="$PWD/$venv/bin:$PATH"

# NIST PKITS (certificates, CRLs, the 224 signed S/MIME messages) from PyPI
# cryptography-vectors, for crates/pki/tests/pkits_paths.rs and crates/smime/tests/pkits.rs.
pkits=target/testdata/PKITS_data
if [ ! -f "$pkits/smime/SignedValidSignaturesTest1.eml" ]; then
  echo "== fetching NIST PKITS (PyPI cryptography-vectors 50.0.2) into $pkits"
  wheels=target/testdata/wheels
  mkdir -p "$wheels"
  "$venv/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary :all: \
    cryptography-vectors==50.0.2 -d "$wheels"
  wheel="$wheels/cryptography_vectors-50.0.2-py3-none-any.whl"
  echo "51641f03a3eb4edbe9fb68e3a3574d25f86aa502d06391fffa886330d02778a0  $wheel" | sha256sum -c --quiet
  rm -rf "$pkits"
  python3 - "$wheel" target/testdata <<'PY'
import sys, zipfile, os, shutil
wheel, dest = sys.argv[1], sys.argv[2]
prefix = "cryptography_vectors/x509/PKITS_data/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            out = os.path.join(dest, "PKITS_data", name[len(prefix):])
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with z.open(name) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
PY
  rm -f "$wheel"
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo test"
log=target/test-output.log
cargo test --workspace 2>&1 | tee "$log"
# One closing line for the whole run (cargo prints one per test binary, the last often a
# doc-test binary with nothing in it).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1); if ($i ~ /^ignored;?$/) s += $(i-1) } }
     END { printf "cachet: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
