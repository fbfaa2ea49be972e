#!/bin/sh
# Makes the `ocsp` fuzz target's fixture (fuzz/fixtures/ocsp_issuer.der, ocsp_subject.der:
# a P-256 CA and a subscriber with serial 0x8F01, valid for 100 years) and its seeds
# (fuzz/seeds/ocsp/: OpenSSL requests and responses about the subscriber), with OpenSSL.
# Run once from the repository root; the fuzz target's AT must lie between the responses'
# thisUpdate and nextUpdate (they are printed at the end).
set -eu
out=$(pwd)/fuzz
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
openssl req -x509 $ec -keyout ca.key -out ca.pem -days 36500 -subj "/O=Cachet Fuzz/CN=Fuzz OCSP CA" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=OCSPSigning\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' > r.ext
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=emailProtection\nsubjectAltName=email:alice@example.com\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' > s.ext
for n in rsigner:0x7001:r.ext sub:0x8F01:s.ext; do
  name=${n%%:*}; rest=${n#*:}; serial=${rest%%:*}; ext=${rest#*:}
  openssl req -new $ec -keyout $name.key -out $name.csr -subj "/CN=$name" 2>/dev/null
  openssl x509 -req -in $name.csr -CA ca.pem -CAkey ca.key -set_serial $serial -days 36500 -extfile $ext -out $name.pem 2>/dev/null
done
openssl x509 -in ca.pem -outform DER -out "$out/fixtures/ocsp_issuer.der"
openssl x509 -in sub.pem -outform DER -out "$out/fixtures/ocsp_subject.der"
printf 'V\t491231000000Z\t\t8F01\tunknown\t/CN=sub\nR\t491231000000Z\t261101000000Z,keyCompromise\t0A0B\tunknown\t/CN=bob\n' > index.txt
openssl ocsp -issuer ca.pem -cert sub.pem -no_nonce -reqout "$out/seeds/ocsp/request-sha1.der"
openssl ocsp -sha256 -issuer ca.pem -cert sub.pem -nonce -reqout "$out/seeds/ocsp/request-sha256-nonce.der"
openssl ocsp -issuer ca.pem -serial 0x0A0B -no_nonce -reqout revoked-req.der
for r in request-sha1:ca:good-by-ca-key-id:-resp_key_id request-sha256-nonce:rsigner:good-delegated-nonce:-resp_no_certs; do
  req=${r%%:*}; rest=${r#*:}; signer=${rest%%:*}; rest=${rest#*:}; name=${rest%%:*}; extra=${rest#*:}
  if [ "$signer" = rsigner ]; then extra=""; fi
  openssl ocsp -index index.txt -CA ca.pem -rsigner $signer.pem -rkey $signer.key -reqin "$out/seeds/ocsp/$req.der" -respout "$out/seeds/ocsp/response-$name.der" -ndays 36500 $extra
done
openssl ocsp -index index.txt -CA ca.pem -rsigner ca.pem -rkey ca.key -reqin revoked-req.der -respout "$out/seeds/ocsp/response-revoked.der" -ndays 36500
openssl ocsp -respin "$out/seeds/ocsp/response-good-by-ca-key-id.der" -resp_text -noverify | grep -E "This Update|Next Update"
