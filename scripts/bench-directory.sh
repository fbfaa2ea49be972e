#!/usr/bin/env bash
# The LDAP certificate directory beside OpenLDAP slapd, in the same run (issue #7):
#   1. `cachet user import` of N accounts (default 100,000; two certificates each) into a
#      fresh SQLite data directory, timed;
#   2. `cachet serve` (release build) with the ldap listener;
#   3. the same entries — exported from Cachet's directory with paged ldapsearch, so both
#      servers hold byte-identical certificates — loaded into a throw-away slapd (mdb
#      backend, equality indexes on mail and uid) with slapadd;
#   4. equality searches (mail=userK@example.test) for random K, returning mail and
#      userCertificate;binary, from crates/directory/examples/ldap_bench.rs (one client
#      thread, many connections, several requests in flight on each) against each server
#      in turn; prints both rates and the ratio.
# Usage: scripts/bench-directory.sh [ACCOUNTS] [SECONDS] [CONNECTIONS] [DEPTH]
set -euo pipefail
cd "$(dirname "$0")/.."
accounts=${1:-100000}
seconds=${2:-10}
connections=${3:-32}
depth=${4:-8}
for tool in ldapsearch:ldap-utils slapd:slapd slapadd:slapd python3:python3; do
  command -v "${tool%%:*}" >/dev/null || [ -x "/usr/sbin/${tool%%:*}" ] \
    || { echo "bench-directory: ${tool%%:*} is needed: apt-get install ${tool##*:}" >&2; exit 2; }
done
export PATH="$PATH:/usr/sbin"
cargo build --release -q -p cachet-cli
cargo build --release -q -p cachet-directory --example ldap_bench
bin=$PWD/target/release/cachet
bench=$PWD/target/release/examples/ldap_bench
work=$(mktemp -d)
server= slapd_pid=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null
  [ -n "$slapd_pid" ] && kill "$slapd_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ldap_port=$(free_port)
slapd_port=$(free_port)
base="dc=example,dc=test"
people="ou=people,$base"
cd "$work"
"$bin" init --data d --domain example.test >/dev/null 2>&1

python3 - "$accounts" > users.csv <<'PY'
import sys
print("email,name")
for i in range(int(sys.argv[1])):
    print(f"user{i}@example.test,User {i}")
PY
start=$(date +%s.%N)
"$bin" user import users.csv --data d >/dev/null
end=$(date +%s.%N)
python3 -c "import sys; n=int(sys.argv[1]); t=float(sys.argv[3])-float(sys.argv[2]); print(f'user import: {n:,} accounts in {t:.1f} s ({n/t:,.0f} accounts/s)')" "$accounts" "$start" "$end"

start=$(date +%s.%N)
"$bin" serve --data d --listen http=127.0.0.1:0 --listen https=127.0.0.1:0 \
  --listen "ldap=127.0.0.1:$ldap_port" --listen ldaps=127.0.0.1:0 2> serve.log &
server=$!
for _ in $(seq 1 600); do grep -q "ldap listening" serve.log && break; sleep 0.1; done
grep -q "ldap listening" serve.log || { cat serve.log; exit 1; }
end=$(date +%s.%N)
python3 -c "import sys; print(f'cachet serve: directory of {int(sys.argv[1]):,} people loaded and listening in {float(sys.argv[3])-float(sys.argv[2]):.1f} s')" "$accounts" "$start" "$end"

# The same entries for slapd: Cachet's people as LDIF (paged), under the same suffix.
{
  printf 'dn: %s\nobjectClass: top\nobjectClass: domain\ndc: example\n\n' "$base"
  printf 'dn: %s\nobjectClass: top\nobjectClass: organizationalUnit\nou: people\n\n' "$people"
  ldapsearch -x -LLL -o ldif-wrap=no -H "ldap://127.0.0.1:$ldap_port" -E pr=1000/noprompt \
    -b "$people" -s one '(objectClass=inetOrgPerson)' \
    objectClass uid cn sn givenName displayName mail 'userCertificate;binary' userSMIMECertificate \
    | grep -v '^#'
} > people.ldif
exported=$(grep -c '^dn: uid=' people.ldif)
[ "$exported" = "$accounts" ] || { echo "bench-directory: exported $exported of $accounts entries" >&2; exit 1; }

mkdir -p slapd/db
cat > slapd/slapd.conf <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile $work/slapd/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
sizelimit 1000
database mdb
maxsize 8589934592
suffix "$base"
rootdn "cn=admin,$base"
directory $work/slapd/db
index objectClass eq
index mail eq
index uid eq
access to * by * read
CONF
start=$(date +%s.%N)
slapadd -q -f slapd/slapd.conf -l people.ldif
end=$(date +%s.%N)
python3 -c "import sys; print(f'slapadd: {int(sys.argv[1]):,} entries in {float(sys.argv[3])-float(sys.argv[2]):.1f} s')" "$accounts" "$start" "$end"
slapd -f slapd/slapd.conf -h "ldap://127.0.0.1:$slapd_port/" -d 0 2> slapd.log &
slapd_pid=$!
for _ in $(seq 1 100); do
  ldapsearch -x -LLL -H "ldap://127.0.0.1:$slapd_port" -s base -b "$base" 1.1 >/dev/null 2>&1 && break
  sleep 0.1
done

# Both serve the same certificates for a sample account.
probe() { ldapsearch -x -LLL -o ldif-wrap=no -H "ldap://127.0.0.1:$1" -b "$base" "(mail=user7@example.test)" 'userCertificate;binary' | grep -i '^userCertificate' | sort; }
[ -n "$(probe "$ldap_port")" ] && [ "$(probe "$ldap_port")" = "$(probe "$slapd_port")" ] \
  || { echo "bench-directory: the two servers disagree on user7's certificates" >&2; exit 1; }

run() { "$bench" "127.0.0.1:$1" "$people" example.test "$accounts" "$seconds" "$connections" "$depth"; }
echo "load: $connections connections x $depth searches in flight, ${seconds} s each, $(nproc) cores shared with the client"
cachet_json=$(run "$ldap_port")
slapd_json=$(run "$slapd_port")
python3 - "$cachet_json" "$slapd_json" "$accounts" "$((connections * depth))" <<'PY'
import json, sys
c, s, n, window = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for name, r in (("cachet", c), ("slapd ", s)):
    print(f"{name}: {r['rate']:>9,.0f} equality searches/s ({r['searches']:,} in {r['seconds']:.1f} s, "
          f"{r['entries']:,} entries, {r['errors']} errors)")
    # Each search finds one entry; requests in flight at the window's edges may count
    # their entry and their result on different sides.
    if r["errors"] or abs(r["entries"] - r["searches"]) > window:
        sys.exit(f"bench-directory: {name.strip()} did not find exactly one entry per search")
print(f"ratio cachet/slapd: {c['rate'] / s['rate']:.2f} with {n:,} accounts")
PY
