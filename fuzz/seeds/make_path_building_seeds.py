#!/usr/bin/env python3
"""Makes the `path_building` fuzz target's seeds (fuzz/seeds/path_building/) from NIST
PKITS certificates and CRLs: each seed is a bag in the target's input format — an anchor
mask byte, an options byte, then blobs with 2-byte big-endian lengths, the leaf first.

Usage: fuzz/seeds/make_path_building_seeds.py [PKITS_data directory]
(default target/testdata/PKITS_data, where the PKITS tests unpack it)."""
import os
import sys

pkits = sys.argv[1] if len(sys.argv) > 1 else "target/testdata/PKITS_data"
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "path_building")
ROOT = "certs/TrustAnchorRootCertificate.crt"
ROOT_CRL = "crls/TrustAnchorRootCRL.crl"

# name: (leaf, intermediates, CRLs, options byte); the trust anchor is always blob 1.
BAGS = {
    "valid-path-4.1.1": ("ValidCertificatePathTest1EE", ["GoodCACert"], ["GoodCACRL"], 0),
    "separate-crl-key-4.4.19": (
        "ValidSeparateCertificateandCRLKeysTest19EE",
        ["SeparateCertificateandCRLKeysCertificateSigningCACert", "SeparateCertificateandCRLKeysCRLSigningCert"],
        ["SeparateCertificateandCRLKeysCRL"],
        0,
    ),
    "self-issued-rollover-4.5.1": (
        "ValidBasicSelfIssuedOldWithNewTest1EE",
        ["BasicSelfIssuedNewKeyCACert", "BasicSelfIssuedNewKeyOldWithNewCACert"],
        ["BasicSelfIssuedNewKeyCACRL"],
        0,
    ),
    "policy-mapping-4.10.1": ("ValidPolicyMappingTest1EE", ["Mapping1to2CACert"], ["Mapping1to2CACRL"], 16),
    "dn-name-constraints-4.13.1": (
        "ValidDNnameConstraintsTest1EE", ["nameConstraintsDN1CACert"], ["nameConstraintsDN1CACRL"], 0,
    ),
    "rfc822-name-constraints-4.13.21": (
        "ValidRFC822nameConstraintsTest21EE", ["nameConstraintsRFC822CA1Cert"], ["nameConstraintsRFC822CA1CRL"], 0,
    ),
    "delta-crl-4.15.2": ("ValiddeltaCRLTest2EE", ["deltaCRLCA1Cert"], ["deltaCRLCA1CRL", "deltaCRLCA1deltaCRL"], 0),
    "indirect-crl-4.14.24": (
        "ValidIDPwithindirectCRLTest24EE", ["indirectCRLCA1Cert", "indirectCRLCA2Cert"], ["indirectCRLCA1CRL"], 0,
    ),
    "dsa-parameters-4.1.5": (
        "ValidDSAParameterInheritanceTest5EE",
        ["DSACACert", "DSAParametersInheritedCACert"],
        ["DSACACRL", "DSAParametersInheritedCACRL"],
        0,
    ),
}


def read(path):
    with open(os.path.join(pkits, path), "rb") as f:
        return f.read()


def blob(der):
    assert len(der) < 65536
    return len(der).to_bytes(2, "big") + der


os.makedirs(out, exist_ok=True)
for name, (leaf, cas, crls, options) in BAGS.items():
    data = bytes([0x01, options]) + blob(read(f"certs/{leaf}.crt")) + blob(read(ROOT))
    for c in cas:
        data += blob(read(f"certs/{c}.crt"))
    for c in [ROOT_CRL] + [f"crls/{c}.crl" for c in crls]:
        data += blob(read(c))
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
    print(name, len(data))
