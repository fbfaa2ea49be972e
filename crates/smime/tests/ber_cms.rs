//! BER normalisation and CMS decoding against messages written by OpenSSL 3 (see
//! `tests/data/README.md` for the commands), hand-made BER, and hostile input.

use cachet_crypto::SignatureAlgorithm;
use cachet_crypto::digest::DigestAlgorithm;
use cachet_smime::ber::{BerError, BerLimits, BerTree, NodeId, normalize, read_header};
use cachet_smime::cms::{
    self, CertificateChoices, CmsContent, CmsError, ContentKind, DecodedContentInfo,
    EccCmsSharedInfo, GcmParameters, KeyAgreeRecipientIdentifier, OriginatorIdentifierOrKey,
    ReceivedSignerInfo, RecipientIdentifier, RecipientInfo, RsaesOaepParams, SignerIdentifier,
    SmimeCapabilities, decode_content_info, encapsulated_content, encode_content_info, oid,
    single_attribute_value,
};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::SubjectKeyIdentifier;

const LIMITS: BerLimits = BerLimits::new(16 << 20);

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const DER_FIXTURES: &[&str] = &[
    "signed-rsa-opaque.der",
    "signed-rsa-detached.der",
    "signed-p256-detached.der",
    "signed-two-signers.der",
    "enveloped-rsa-cbc.der",
    "enveloped-rsa-ec-cbc.der",
    "enveloped-rsa-oaep-sha256-keyid.der",
    "enveloped-rsa-oaep-default.der",
    "authenveloped-rsa-gcm.der",
];

const BER_FIXTURES: &[&str] = &[
    "signed-rsa-opaque-stream.ber",
    "signed-p256-opaque-stream-keyid.ber",
    "enveloped-rsa-cbc-stream.ber",
    "enveloped-ec-cbc-stream.ber",
    "authenveloped-rsa-ec-gcm-stream.ber",
];

fn all_fixtures() -> impl Iterator<Item = &'static str> {
    DER_FIXTURES.iter().chain(BER_FIXTURES).copied()
}

fn decode(name: &str) -> DecodedContentInfo {
    decode_content_info(&data(name), &LIMITS).unwrap_or_else(|e| panic!("{name}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// SignedData
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sid {
    IssuerAndSerial,
    SubjectKeyId,
}

struct SignedCase {
    file: &'static str,
    /// The content file that was signed.
    content: &'static str,
    opaque: bool,
    /// (sid kind, digest algorithm) per signer, in received order.
    signers: &'static [(Sid, ObjectIdentifier)],
    certificates: usize,
}

const SIGNED: &[SignedCase] = &[
    SignedCase {
        file: "signed-rsa-opaque-stream.ber",
        content: "content-big.txt",
        opaque: true,
        signers: &[(Sid::IssuerAndSerial, oid::ID_SHA256)],
        certificates: 2,
    },
    SignedCase {
        file: "signed-rsa-opaque.der",
        content: "content.txt",
        opaque: true,
        signers: &[(Sid::IssuerAndSerial, oid::ID_SHA256)],
        certificates: 1,
    },
    SignedCase {
        file: "signed-rsa-detached.der",
        content: "content.txt",
        opaque: false,
        signers: &[(Sid::IssuerAndSerial, oid::ID_SHA256)],
        certificates: 1,
    },
    SignedCase {
        file: "signed-p256-opaque-stream-keyid.ber",
        content: "content-big.txt",
        opaque: true,
        signers: &[(Sid::SubjectKeyId, oid::ID_SHA384)],
        certificates: 1,
    },
    SignedCase {
        file: "signed-p256-detached.der",
        content: "content.txt",
        opaque: false,
        signers: &[(Sid::IssuerAndSerial, oid::ID_SHA256)],
        certificates: 1,
    },
    SignedCase {
        file: "signed-two-signers.der",
        content: "content.txt",
        opaque: true,
        signers: &[
            (Sid::IssuerAndSerial, oid::ID_SHA256),
            (Sid::IssuerAndSerial, oid::ID_SHA256),
        ],
        certificates: 2,
    },
];

fn digest_for(oid: ObjectIdentifier) -> DigestAlgorithm {
    match oid {
        o if o == oid::ID_SHA256 => DigestAlgorithm::Sha256,
        o if o == oid::ID_SHA384 => DigestAlgorithm::Sha384,
        o if o == oid::ID_SHA512 => DigestAlgorithm::Sha512,
        other => panic!("unexpected digest {other}"),
    }
}

/// OpenSSL writes `rsaEncryption` as the signature algorithm of RSA signers (RFC 3370 §3.2
/// allows it); the hash is then the digest algorithm.
fn signature_algorithm(
    sig: &AlgorithmIdentifierOwned,
    digest: ObjectIdentifier,
) -> SignatureAlgorithm {
    if sig.oid == oid::RSA_ENCRYPTION {
        match digest_for(digest) {
            DigestAlgorithm::Sha256 => SignatureAlgorithm::RsaPkcs1Sha256,
            DigestAlgorithm::Sha384 => SignatureAlgorithm::RsaPkcs1Sha384,
            _ => SignatureAlgorithm::RsaPkcs1Sha512,
        }
    } else {
        SignatureAlgorithm::from_oid(&sig.oid).unwrap_or_else(|| panic!("{}", sig.oid))
    }
}

fn signer_certificate<'a>(
    certs: &'a [x509_cert::Certificate],
    sid: &SignerIdentifier,
) -> &'a x509_cert::Certificate {
    certs
        .iter()
        .find(|c| {
            let tbs = c.tbs_certificate();
            match sid {
                SignerIdentifier::IssuerAndSerialNumber(ias) => {
                    tbs.issuer() == &ias.issuer && tbs.serial_number() == &ias.serial_number
                }
                SignerIdentifier::SubjectKeyIdentifier(ski) => {
                    matches!(tbs.get_extension::<SubjectKeyIdentifier>(), Ok(Some((_, s))) if &s == ski)
                }
            }
        })
        .expect("signer certificate is in the message")
}

#[test]
fn signed_fixtures_decode_and_their_signatures_verify() {
    for case in SIGNED {
        let decoded = decode(case.file);
        assert_eq!(decoded.content_type, oid::ID_SIGNED_DATA, "{}", case.file);
        assert_eq!(decoded.content.kind(), ContentKind::SignedData);
        let CmsContent::SignedData {
            signed_data,
            signer_infos,
            certificates,
        } = decoded.content
        else {
            panic!("{}: not SignedData", case.file);
        };
        assert_eq!(signer_infos.len(), case.signers.len(), "{}", case.file);
        // Handed over once, as received, not again inside the decoded structure.
        assert!(signed_data.signer_infos.0.is_empty(), "{}", case.file);
        assert_eq!(
            signed_data.encap_content_info.econtent_type,
            oid::ID_DATA,
            "{}",
            case.file
        );
        let content = data(case.content);
        let econtent = encapsulated_content(&signed_data.encap_content_info).unwrap();
        if case.opaque {
            // The segments of the streamed OCTET STRING are joined back.
            assert!(econtent == Some(&content[..]), "{}: eContent", case.file);
        } else {
            assert!(econtent.is_none(), "{}: detached", case.file);
        }
        // The decoder hands the certificates over as received, not decoded.
        assert!(signed_data.certificates.is_none(), "{}", case.file);
        let certs: Vec<x509_cert::Certificate> = certificates
            .iter()
            .map(|d| x509_cert::Certificate::from_der(d).unwrap())
            .collect();
        assert_eq!(certs.len(), case.certificates, "{}", case.file);
        let digest_oids: Vec<_> = signed_data
            .digest_algorithms
            .iter()
            .map(|a| a.oid)
            .collect();

        for (received, &(sid_kind, digest_oid)) in signer_infos.iter().zip(case.signers) {
            let si = &received.signer_info;
            let kind = match si.sid {
                SignerIdentifier::IssuerAndSerialNumber(_) => Sid::IssuerAndSerial,
                SignerIdentifier::SubjectKeyIdentifier(_) => Sid::SubjectKeyId,
            };
            assert_eq!(kind, sid_kind, "{}", case.file);
            assert_eq!(si.digest_alg.oid, digest_oid, "{}", case.file);
            assert!(digest_oids.contains(&digest_oid));

            // The RFC 5652 §5.4 input: received signedAttrs re-tagged as SET.
            let encoding = received
                .signed_attrs_encoding
                .as_deref()
                .expect("OpenSSL writes signed attributes");
            assert_eq!(encoding[0], 0x31);
            let attrs = si.signed_attrs.as_ref().unwrap();
            assert_eq!(&SetOfVec::<Attribute>::from_der(encoding).unwrap(), attrs);
            assert_eq!(
                single_attribute_value::<ObjectIdentifier>(attrs, oid::ID_CONTENT_TYPE).unwrap(),
                Some(oid::ID_DATA)
            );
            let md: OctetString = single_attribute_value(attrs, oid::ID_MESSAGE_DIGEST)
                .unwrap()
                .unwrap();
            assert_eq!(
                md.as_bytes(),
                digest_for(digest_oid).digest(&content),
                "{}",
                case.file
            );
            let caps: SmimeCapabilities = single_attribute_value(attrs, oid::SMIME_CAPABILITIES)
                .unwrap()
                .unwrap();
            assert_eq!(caps[0].capability_id, oid::ID_AES256_CBC, "{}", case.file);
            assert!(
                single_attribute_value::<x509_cert::time::Time>(attrs, oid::ID_SIGNING_TIME)
                    .unwrap()
                    .is_some()
            );

            let cert = signer_certificate(&certs, &si.sid);
            let spki = cert
                .tbs_certificate()
                .subject_public_key_info()
                .to_der()
                .unwrap();
            signature_algorithm(&si.signature_algorithm, digest_oid)
                .verify(&spki, encoding, si.signature.as_bytes())
                .unwrap_or_else(|e| panic!("{}: signature: {e}", case.file));
        }
    }
}

#[test]
fn signer_infos_keep_the_received_order() {
    let input = data("signed-two-signers.der");
    let tree = BerTree::parse(&input, &LIMITS).unwrap();
    let sd = tree.child(tree.child(tree.root(), 1).unwrap(), 0).unwrap();
    let set = tree.children(sd).last().unwrap();
    let received: Vec<Vec<u8>> = tree
        .children(set)
        .map(|si| tree.raw(si).unwrap().to_vec())
        .collect();
    let CmsContent::SignedData { signer_infos, .. } = decode("signed-two-signers.der").content
    else {
        panic!("not SignedData");
    };
    let ours: Vec<Vec<u8>> = signer_infos
        .iter()
        .map(|s| s.signer_info.to_der().unwrap())
        .collect();
    assert_eq!(ours, received);
}

// ---------------------------------------------------------------------------------------------
// EnvelopedData and AuthEnvelopedData
// ---------------------------------------------------------------------------------------------

fn check_ktri(ri: &RecipientInfo, key_enc: ObjectIdentifier, ski: bool) {
    let RecipientInfo::Ktri(ktri) = ri else {
        panic!("expected ktri, got {ri:?}");
    };
    assert_eq!(ktri.key_enc_alg.oid, key_enc);
    assert_eq!(ktri.enc_key.as_bytes().len(), 256, "RSA-2048");
    match (&ktri.rid, ski) {
        (RecipientIdentifier::IssuerAndSerialNumber(ias), false) => {
            assert_eq!(ias.serial_number.as_bytes(), [0x10, 0x01]);
        }
        (RecipientIdentifier::SubjectKeyIdentifier(s), true) => {
            assert_eq!(s.0.as_bytes().len(), 20);
        }
        (rid, _) => panic!("unexpected rid {rid:?}"),
    }
}

fn check_kari(ri: &RecipientInfo) {
    let RecipientInfo::Kari(kari) = ri else {
        panic!("expected kari, got {ri:?}");
    };
    let OriginatorIdentifierOrKey::OriginatorKey(key) = &kari.originator else {
        panic!("expected an ephemeral originator key");
    };
    assert_eq!(key.algorithm.oid, oid::ID_EC_PUBLIC_KEY);
    let point = key.public_key.as_bytes().unwrap();
    assert_eq!(
        (point.len(), point[0]),
        (65, 0x04),
        "uncompressed P-256 point"
    );
    assert!(kari.ukm.is_none());
    // OpenSSL 3.0's default for EC recipients.
    assert_eq!(
        kari.key_enc_alg.oid,
        oid::DH_SINGLE_PASS_STD_DH_SHA1KDF_SCHEME
    );
    let wrap: AlgorithmIdentifierOwned = cms::decode_parameters(&kari.key_enc_alg, "wrap").unwrap();
    assert_eq!(wrap.oid, oid::ID_AES256_WRAP);
    assert_eq!(kari.recipient_enc_keys.len(), 1);
    let rek = &kari.recipient_enc_keys[0];
    let KeyAgreeRecipientIdentifier::IssuerAndSerialNumber(ias) = &rek.rid else {
        panic!("expected issuerAndSerialNumber");
    };
    assert_eq!(ias.serial_number.as_bytes(), [0x10, 0x02]);
    assert_eq!(rek.enc_key.as_bytes().len(), 40, "AES-256 key wrapped");
    // The shared info a decryptor would build for this recipient.
    let si = EccCmsSharedInfo::new(wrap.oid, None, 256).unwrap();
    assert_eq!(si.supp_pub_info.as_bytes(), [0, 0, 1, 0]);
}

fn enveloped(name: &str) -> Box<cms::EnvelopedData> {
    let decoded = decode(name);
    assert_eq!(decoded.content_type, oid::ID_ENVELOPED_DATA, "{name}");
    match decoded.content {
        CmsContent::EnvelopedData(ed) => ed,
        other => panic!("{name}: {:?}", other.kind()),
    }
}

fn check_cbc(eci: &cms::EncryptedContentInfo, plaintext_len: usize) {
    assert_eq!(eci.content_type, oid::ID_DATA);
    assert_eq!(eci.content_enc_alg.oid, oid::ID_AES256_CBC);
    let iv: OctetString = cms::decode_parameters(&eci.content_enc_alg, "IV").unwrap();
    assert_eq!(iv.as_bytes().len(), 16);
    let ct = eci
        .encrypted_content
        .as_ref()
        .expect("encryptedContent present");
    assert_eq!(
        ct.as_bytes().len(),
        (plaintext_len / 16 + 1) * 16,
        "PKCS#7 padded"
    );
}

#[test]
fn enveloped_fixtures_decode() {
    let small = data("content.txt").len();
    let big = data("content-big.txt").len();

    for (name, len) in [
        ("enveloped-rsa-cbc-stream.ber", big),
        ("enveloped-rsa-cbc.der", small),
    ] {
        let ed = enveloped(name);
        assert_eq!(ed.recip_infos.0.len(), 1);
        check_ktri(ed.recip_infos.0.get(0).unwrap(), oid::RSA_ENCRYPTION, false);
        check_cbc(&ed.encrypted_content, len);
    }

    let ed = enveloped("enveloped-ec-cbc-stream.ber");
    assert_eq!(ed.recip_infos.0.len(), 1);
    check_kari(ed.recip_infos.0.get(0).unwrap());
    check_cbc(&ed.encrypted_content, big);

    let ed = enveloped("enveloped-rsa-ec-cbc.der");
    let kinds: Vec<_> = ed.recip_infos.0.iter().collect();
    assert_eq!(kinds.len(), 2);
    check_ktri(kinds[0], oid::RSA_ENCRYPTION, false);
    check_kari(kinds[1]);
    check_cbc(&ed.encrypted_content, small);

    let ed = enveloped("enveloped-rsa-oaep-sha256-keyid.der");
    let ri = ed.recip_infos.0.get(0).unwrap();
    check_ktri(ri, oid::ID_RSAES_OAEP, true);
    let RecipientInfo::Ktri(ktri) = ri else {
        unreachable!()
    };
    let params = RsaesOaepParams::from_algorithm(&ktri.key_enc_alg).unwrap();
    assert_eq!(params.hash_func.oid, oid::ID_SHA256);
    assert_eq!(params.mgf1_hash().unwrap().oid, oid::ID_SHA256);
    assert!(params.label().unwrap().is_empty());
    check_cbc(&ed.encrypted_content, small);

    let ed = enveloped("enveloped-rsa-oaep-default.der");
    let ri = ed.recip_infos.0.get(0).unwrap();
    check_ktri(ri, oid::ID_RSAES_OAEP, false);
    let RecipientInfo::Ktri(ktri) = ri else {
        unreachable!()
    };
    let params = RsaesOaepParams::from_algorithm(&ktri.key_enc_alg).unwrap();
    assert_eq!(params, RsaesOaepParams::sha1_defaults().unwrap());
    assert_eq!(params.mgf1_hash().unwrap().oid, oid::ID_SHA1);
}

#[test]
fn auth_enveloped_fixtures_decode() {
    for (name, content, recipients) in [
        ("authenveloped-rsa-ec-gcm-stream.ber", "content-big.txt", 2),
        ("authenveloped-rsa-gcm.der", "content.txt", 1),
    ] {
        let decoded = decode(name);
        assert_eq!(
            decoded.content_type,
            oid::ID_CT_AUTH_ENVELOPED_DATA,
            "{name}"
        );
        let CmsContent::AuthEnvelopedData {
            auth_enveloped_data: aed,
            auth_attrs_encoding,
        } = decoded.content
        else {
            panic!("{name}: not AuthEnvelopedData");
        };
        assert_eq!(auth_attrs_encoding, None, "OpenSSL sends no authAttrs");
        assert!(aed.auth_attrs.is_none());
        let ris: Vec<_> = aed.recip_infos.0.iter().collect();
        assert_eq!(ris.len(), recipients, "{name}");
        check_ktri(ris[0], oid::RSA_ENCRYPTION, false);
        if recipients == 2 {
            check_kari(ris[1]);
        }
        let eci = &aed.auth_encrypted_content_info;
        assert_eq!(eci.content_enc_alg.oid, oid::ID_AES256_GCM);
        let gcm = GcmParameters::from_algorithm(&eci.content_enc_alg).unwrap();
        assert_eq!(gcm.aes_icv_len, 16, "{name}: OpenSSL writes aes-ICVlen 16");
        assert_eq!(gcm.aes_nonce.as_bytes().len(), 12);
        assert_eq!(aed.mac.as_bytes().len(), 16);
        // GCM does not pad: the segments of the streamed ciphertext are joined back.
        assert_eq!(
            eci.encrypted_content.as_ref().unwrap().as_bytes().len(),
            data(content).len(),
            "{name}"
        );
    }
}

#[test]
fn ukm_and_auth_attrs_round_trip() {
    // A KeyAgreeRecipientInfo with user keying material (RFC 5652 §6.2.2), written with the
    // `cms` types and read back through BER.
    let mut ed = enveloped("enveloped-ec-cbc-stream.ber");
    let Some(RecipientInfo::Kari(kari)) = ed.recip_infos.0.iter().next().cloned() else {
        panic!("expected kari");
    };
    let mut kari = kari;
    kari.ukm = Some(
        OctetString::new(*b"64 bytes of user keying material, as RFC 5753 7.1.5 suggests...!")
            .unwrap(),
    );
    ed.recip_infos =
        cms::RecipientInfos::try_from(vec![RecipientInfo::Kari(kari.clone())]).unwrap();
    let der = encode_content_info(oid::ID_ENVELOPED_DATA, ed.as_ref()).unwrap();
    let tree = BerTree::parse(&der, &LIMITS).unwrap();
    let mut ber = Vec::new();
    berify(&tree, tree.root(), &[], &mut ber);
    let CmsContent::EnvelopedData(back) = decode_content_info(&ber, &LIMITS).unwrap().content
    else {
        panic!("not EnvelopedData");
    };
    let Some(RecipientInfo::Kari(back_kari)) = back.recip_infos.0.iter().next() else {
        panic!("expected kari");
    };
    assert_eq!(back_kari, &kari);
    assert_eq!(back_kari.ukm.as_ref().unwrap().as_bytes().len(), 64);
    let si = EccCmsSharedInfo::new(
        oid::ID_AES256_WRAP,
        Some(back_kari.ukm.as_ref().unwrap().as_bytes()),
        256,
    )
    .unwrap();
    assert_eq!(
        EccCmsSharedInfo::from_der(&si.to_der().unwrap()).unwrap(),
        si
    );

    // AuthEnvelopedData with authAttrs (RFC 5083 §2.1): the AAD is their DER with a SET tag.
    let CmsContent::AuthEnvelopedData {
        auth_enveloped_data: mut aed,
        ..
    } = decode("authenveloped-rsa-gcm.der").content
    else {
        panic!("not AuthEnvelopedData");
    };
    let attr = Attribute {
        oid: oid::ID_CONTENT_TYPE,
        values: SetOfVec::try_from(vec![der::Any::encode_from(&oid::ID_DATA).unwrap()]).unwrap(),
    };
    let attrs = SetOfVec::try_from(vec![attr]).unwrap();
    aed.auth_attrs = Some(attrs.clone());
    let der = encode_content_info(oid::ID_CT_AUTH_ENVELOPED_DATA, aed.as_ref()).unwrap();
    let CmsContent::AuthEnvelopedData {
        auth_enveloped_data: back,
        auth_attrs_encoding,
    } = decode_content_info(&der, &LIMITS).unwrap().content
    else {
        panic!("not AuthEnvelopedData");
    };
    assert_eq!(auth_attrs_encoding, Some(attrs.to_der().unwrap()));
    assert_eq!(back.auth_attrs, Some(attrs));
}

#[test]
fn unsupported_and_data_content_types() {
    // ContentInfo { id-digestedData, [0] NULL }
    let mut digested = vec![0x30, 0x0f, 0x06, 0x09];
    digested.extend_from_slice(oid::ID_DIGESTED_DATA.as_bytes());
    digested.extend_from_slice(&[0xa0, 0x02, 0x05, 0x00]);
    assert!(matches!(
        decode_content_info(&digested, &LIMITS),
        Err(CmsError::Unsupported { .. })
    ));
    // ContentInfo { id-data, [0] OCTET STRING } in BER with a segmented OCTET STRING.
    let mut ber = vec![0x30, 0x80, 0x06, 0x09];
    ber.extend_from_slice(oid::ID_DATA.as_bytes());
    ber.extend_from_slice(&[
        0xa0, 0x80, 0x24, 0x80, 0x04, 0x02, b'h', b'i', 0x04, 0x01, b'!',
    ]);
    ber.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let decoded = decode_content_info(&ber, &LIMITS).unwrap();
    let CmsContent::Data(octets) = decoded.content else {
        panic!("not Data");
    };
    assert_eq!(octets.as_bytes(), b"hi!");
    // Not a ContentInfo at all.
    assert!(matches!(
        decode_content_info(&[0x04, 0x00], &LIMITS),
        Err(CmsError::Malformed {
            what: "ContentInfo",
            ..
        })
    ));
}

// ---------------------------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------------------------

#[test]
fn der_passes_through_unchanged_and_reencodes_identically() {
    for name in DER_FIXTURES {
        let input = data(name);
        assert_eq!(normalize(&input, &LIMITS).unwrap(), input, "{name}");
        let decoded = decode(name);
        let reencoded = match &decoded.content {
            CmsContent::Data(d) => encode_content_info(decoded.content_type, d),
            CmsContent::SignedData {
                signed_data,
                signer_infos,
                certificates,
            } => encode_content_info(
                decoded.content_type,
                &reassembled(signed_data, signer_infos, certificates),
            ),
            CmsContent::EnvelopedData(ed) => encode_content_info(decoded.content_type, ed.as_ref()),
            CmsContent::AuthEnvelopedData {
                auth_enveloped_data,
                ..
            } => encode_content_info(decoded.content_type, auth_enveloped_data.as_ref()),
        }
        .unwrap();
        assert_eq!(
            reencoded, input,
            "{name}: decode then encode is byte-identical"
        );
    }
}

#[test]
fn ber_fixtures_normalise_to_stable_der() {
    for name in BER_FIXTURES {
        let input = data(name);
        let tree = BerTree::parse(&input, &LIMITS).unwrap();
        assert!(tree.is_indefinite(tree.root()), "{name} is streamed BER");
        let der = normalize(&input, &LIMITS).unwrap();
        assert_ne!(der, input);
        assert!(
            der.len() <= input.len(),
            "{name}: BER → DER never grows here"
        );
        assert_eq!(normalize(&der, &LIMITS).unwrap(), der, "{name}: idempotent");
        let der_tree = BerTree::parse(&der, &LIMITS).unwrap();
        assert!(!any_indefinite(&der_tree, der_tree.root()), "{name}");
        // The decoded structure re-encodes to DER that decodes to the same thing.
        let decoded = decode(name);
        if let CmsContent::SignedData {
            signed_data,
            signer_infos,
            certificates,
        } = &decoded.content
        {
            let again = encode_content_info(
                decoded.content_type,
                &reassembled(signed_data, signer_infos, certificates),
            )
            .unwrap();
            let CmsContent::SignedData {
                signed_data: back,
                signer_infos: back_signer_infos,
                certificates: back_certificates,
            } = decode_content_info(&again, &LIMITS).unwrap().content
            else {
                panic!("not SignedData");
            };
            assert_eq!(back, *signed_data);
            let infos = |v: &[ReceivedSignerInfo]| -> Vec<_> {
                v.iter().map(|r| r.signer_info.clone()).collect()
            };
            assert_eq!(infos(&back_signer_infos), infos(signer_infos));
            assert_eq!(back_certificates, *certificates);
        }
    }
}

fn any_indefinite(tree: &BerTree<'_>, n: NodeId) -> bool {
    tree.is_indefinite(n) || tree.children(n).any(|c| any_indefinite(tree, c))
}

/// Rewrites DER as BER with every BER liberty: indefinite lengths on every constructed
/// element, OCTET STRINGs, BIT STRINGs and `[0] IMPLICIT` primitives (CMS uses those only for
/// OCTET STRINGs) cut into nested constructed segments, and 4-octet lengths on everything
/// else. The subtrees in `keep` (certificates, signedAttrs) are copied as they are.
fn berify(tree: &BerTree<'_>, n: NodeId, keep: &[NodeId], out: &mut Vec<u8>) {
    let raw = tree.raw(n).unwrap();
    if keep.contains(&n) {
        out.extend_from_slice(raw);
        return;
    }
    let id = tree.identifier(n).unwrap();
    let header = read_header(raw, 0).unwrap();
    let ident = &raw[..header.identifier_len];
    let content = tree.content(n).unwrap();
    if id.constructed {
        out.extend_from_slice(ident);
        out.push(0x80);
        for c in tree.children(n) {
            berify(tree, c, keep, out);
        }
        out.extend_from_slice(&[0, 0]);
    } else if (id.is_universal(4) || ident == [0x80]) && content.len() >= 2 {
        // Two top-level segments, the second itself constructed with two segments.
        let (a, b) = content.split_at(content.len() / 2);
        let (b1, b2) = b.split_at(b.len() / 2);
        out.extend_from_slice(&[ident[0] | 0x20, 0x80]);
        out.extend_from_slice(&[0x04, 0x84]);
        out.extend_from_slice(&(a.len() as u32).to_be_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(&[0x24, 0x80]);
        for part in [b1, b2] {
            out.extend_from_slice(&[0x04, 0x83]);
            out.extend_from_slice(&(part.len() as u32).to_be_bytes()[1..]);
            out.extend_from_slice(part);
        }
        out.extend_from_slice(&[0, 0, 0, 0]);
    } else if id.is_universal(3) && content.len() >= 3 {
        // BIT STRING: a first segment with 0 unused bits, the rest with the original count.
        let (unused, bits) = (content[0], &content[1..]);
        let (a, b) = bits.split_at(bits.len() / 2);
        out.extend_from_slice(&[0x23, 0x80]);
        out.extend_from_slice(&[0x03, 0x81, (a.len() + 1) as u8, 0x00]);
        out.extend_from_slice(a);
        out.extend_from_slice(&[0x03, 0x82]);
        out.extend_from_slice(&((b.len() + 1) as u16).to_be_bytes());
        out.push(unused);
        out.extend_from_slice(b);
        out.extend_from_slice(&[0, 0]);
    } else {
        out.extend_from_slice(ident);
        out.push(0x84);
        out.extend_from_slice(&(content.len() as u32).to_be_bytes());
        out.extend_from_slice(content);
    }
}

/// The elements [`berify`] must not touch: certificates and CRLs (their encoding is signed
/// and their schema has `[n] IMPLICIT` strings of other types) and signedAttrs (RFC 5652
/// §5.3 requires DER).
fn keep_as_der(tree: &BerTree<'_>) -> Vec<NodeId> {
    let content = tree.child(tree.child(tree.root(), 1).unwrap(), 0).unwrap();
    let mut keep = Vec::new();
    for c in tree.children(content) {
        let id = tree.identifier(c).unwrap();
        if id.is_context(0) || id.is_context(1) {
            keep.push(c); // SignedData certificates/crls, EnvelopedData originatorInfo
        }
        if id.is_set() {
            for si in tree.children(c) {
                if let Some(attrs) = tree.child(si, 3)
                    && tree.identifier(attrs).unwrap().is_context(0)
                {
                    keep.push(attrs);
                }
            }
        }
    }
    keep
}

#[test]
fn maximal_ber_decodes_like_der() {
    for name in DER_FIXTURES {
        let input = data(name);
        let tree = BerTree::parse(&input, &LIMITS).unwrap();
        let mut ber = Vec::new();
        berify(&tree, tree.root(), &keep_as_der(&tree), &mut ber);
        assert!(ber.len() > input.len());
        if !name.starts_with("signed") {
            // Generic normalisation cannot join `[0] IMPLICIT OCTET STRING`s: only the CMS
            // decoder, which knows the schema, gets back to the original.
            assert_ne!(normalize(&ber, &LIMITS).unwrap(), input, "{name}");
        }
        let from_der = decode(name);
        let from_ber = decode_content_info(&ber, &LIMITS).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(from_ber.content_type, from_der.content_type);
        match (from_der.content, from_ber.content) {
            (
                CmsContent::SignedData {
                    signed_data: a,
                    signer_infos: sa,
                    certificates: ca,
                },
                CmsContent::SignedData {
                    signed_data: b,
                    signer_infos: sb,
                    certificates: cb,
                },
            ) => {
                assert_eq!(a, b, "{name}");
                assert_eq!(sa, sb, "{name}");
                assert_eq!(ca, cb, "{name}");
            }
            (CmsContent::EnvelopedData(a), CmsContent::EnvelopedData(b)) => {
                assert_eq!(a, b, "{name}")
            }
            (
                CmsContent::AuthEnvelopedData {
                    auth_enveloped_data: a,
                    ..
                },
                CmsContent::AuthEnvelopedData {
                    auth_enveloped_data: b,
                    ..
                },
            ) => assert_eq!(a.to_der().unwrap(), b.to_der().unwrap(), "{name}"),
            _ => panic!("{name}: content kinds differ"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile input
// ---------------------------------------------------------------------------------------------

#[test]
fn every_truncation_is_an_error() {
    for name in all_fixtures() {
        let input = data(name);
        for len in 0..input.len() {
            let cut = &input[..len];
            assert!(normalize(cut, &LIMITS).is_err(), "{name} cut at {len}");
            assert!(
                decode_content_info(cut, &LIMITS).is_err(),
                "{name} cut at {len}"
            );
        }
    }
}

#[test]
fn byte_flips_never_panic() {
    for name in all_fixtures() {
        let input = data(name);
        // Every byte of the structure; in the long runs of ciphertext or content in the middle
        // of the big fixtures, every 61st byte.
        let positions = (0..input.len())
            .filter(|&i| input.len() < 2500 || i < 1200 || i + 1200 > input.len() || i % 61 == 0);
        let mut failures = 0usize;
        for i in positions {
            for mask in [0x01u8, 0x20, 0x80, 0xff] {
                let mut m = input.clone();
                m[i] ^= mask;
                let _ = normalize(&m, &LIMITS);
                if decode_content_info(&m, &LIMITS).is_err() {
                    failures += 1;
                }
            }
        }
        assert!(failures > 0, "{name}");
    }
}

#[test]
fn deep_nesting_is_refused_early() {
    let depth = 10_000;
    let mut deep = [0x30u8, 0x80].repeat(depth);
    deep.extend(std::iter::repeat_n(0u8, 2 * depth));
    let err = normalize(&deep, &LIMITS).unwrap_err();
    // Refused at the 65th level, without reading the rest.
    assert_eq!(
        err,
        BerError::TooDeep {
            offset: 130,
            max: 64
        }
    );
    assert!(matches!(
        decode_content_info(&deep, &LIMITS),
        Err(CmsError::TooDeep { max: 64, .. })
    ));
    // Constructed OCTET STRINGs nested the same way, inside a ContentInfo.
    let mut strings = vec![0x30, 0x80, 0x06, 0x09];
    strings.extend_from_slice(oid::ID_DATA.as_bytes());
    strings.extend_from_slice(&[0xa0, 0x80]);
    strings.extend_from_slice(&[0x24, 0x80].repeat(depth));
    strings.extend(std::iter::repeat_n(0u8, 2 * depth + 4));
    assert!(matches!(
        decode_content_info(&strings, &LIMITS),
        Err(CmsError::TooDeep { .. })
    ));
}

#[test]
fn absurd_lengths_are_refused() {
    let mut prefix = vec![0x30, 0x80, 0x06, 0x09];
    prefix.extend_from_slice(oid::ID_SIGNED_DATA.as_bytes());
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff], "4 GiB"),
        (
            [
                &prefix[..],
                &[0xa0, 0x84, 0xff, 0xff, 0xff, 0xff, 0x30, 0x80],
            ]
            .concat(),
            "nested 4 GiB",
        ),
        ([&[0x04, 0x88][..], &[0xff; 8]].concat(), "2^64 - 1"),
        (
            [&[0x04, 0x89][..], &[0xff; 9]].concat(),
            "more than 64 bits",
        ),
        (
            [&[0x30, 0xfe][..], &[0xff; 126]].concat(),
            "126 length octets",
        ),
        (vec![0x30, 0xff, 0x00], "reserved 0xFF"),
        (vec![0x04, 0x80, 0x00, 0x00], "indefinite primitive"),
    ];
    for (input, what) in cases {
        let err = normalize(&input, &LIMITS).unwrap_err();
        assert!(
            matches!(
                err,
                BerError::LengthOverrun { .. }
                    | BerError::LengthTooLarge { .. }
                    | BerError::ReservedLength { .. }
                    | BerError::IndefinitePrimitive { .. }
            ),
            "{what}: {err:?}"
        );
        assert!(decode_content_info(&input, &LIMITS).is_err(), "{what}");
    }
}

#[test]
fn too_many_elements_and_too_large() {
    let mut flat = vec![0x30, 0x80];
    flat.extend_from_slice(&[0x05, 0x00].repeat(2_000_000));
    flat.extend_from_slice(&[0, 0]);
    assert!(matches!(
        normalize(&flat, &LIMITS),
        Err(BerError::TooManyElements { max, .. }) if max == cachet_smime::ber::DEFAULT_MAX_ELEMENTS
    ));
    assert!(matches!(
        decode_content_info(&flat, &BerLimits::new(1000)),
        Err(CmsError::TooLarge { .. })
    ));
}

/// 100 MB inputs: each is handled in one linear pass and refused.
#[test]
fn hundred_megabytes_of_hostile_ber() {
    const SIZE: usize = 100 << 20;
    let limits = BerLimits::new(SIZE + (1 << 20));

    // A ContentInfo that claims SignedData and streams 100 MB of OCTET STRING segments as
    // its content: normalised completely (100 MB copied), then refused by the decoder.
    let mut big = vec![0x30, 0x80, 0x06, 0x09];
    big.extend_from_slice(oid::ID_SIGNED_DATA.as_bytes());
    big.extend_from_slice(&[0xa0, 0x80, 0x24, 0x80]);
    let chunk = 65_536;
    while big.len() < SIZE {
        big.extend_from_slice(&[0x04, 0x83, 0x01, 0x00, 0x00]);
        big.resize(big.len() + chunk, 0x5a);
    }
    big.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    assert!(matches!(
        decode_content_info(&big, &limits),
        Err(CmsError::Malformed {
            what: "SignedData",
            ..
        })
    ));
    // The same without its end-of-contents: truncated after a full scan.
    big.truncate(big.len() - 6);
    assert!(matches!(
        decode_content_info(&big, &limits),
        Err(CmsError::Malformed {
            what: "BER encoding",
            ..
        })
    ));
    drop(big);

    // 100 MB of nested empty indefinite SEQUENCEs, 60 deep, side by side.
    let block: Vec<u8> = [[0x30u8, 0x80].repeat(60), vec![0u8; 120]].concat();
    let mut nested = vec![0x30, 0x80];
    while nested.len() < SIZE {
        nested.extend_from_slice(&block);
    }
    nested.extend_from_slice(&[0, 0]);
    assert!(matches!(
        decode_content_info(&nested, &limits),
        Err(CmsError::TooLarge { .. })
    ));
    let mut unlimited = limits;
    unlimited.max_elements = usize::MAX;
    // Without an element limit the whole input is parsed; it is still not a ContentInfo.
    assert!(decode_content_info(&nested[..SIZE / 40], &unlimited).is_err());
    drop(nested);

    // 100 MB of pseudo-random bytes.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let garbage: Vec<u8> = (0..SIZE)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    assert!(normalize(&garbage, &limits).is_err());
    assert!(decode_content_info(&garbage, &limits).is_err());
}

/// `signed_data` with the certificates the decoder took out put back (for re-encoding).
/// The SignedData with the certificates and SignerInfos the decoder handed over apart.
fn reassembled(
    signed_data: &cms::SignedData,
    signer_infos: &[ReceivedSignerInfo],
    certificates: &[Vec<u8>],
) -> cms::SignedData {
    use der::Decode;
    let mut sd = signed_data.clone();
    let infos: Vec<::cms::signed_data::SignerInfo> =
        signer_infos.iter().map(|r| r.signer_info.clone()).collect();
    sd.signer_infos =
        ::cms::signed_data::SignerInfos(der::asn1::SetOfVec::try_from(infos).unwrap());
    if !certificates.is_empty() {
        let set: Vec<CertificateChoices> = certificates
            .iter()
            .map(|d| CertificateChoices::Certificate(x509_cert::Certificate::from_der(d).unwrap()))
            .collect();
        sd.certificates = Some(cms::CertificateSet(
            der::asn1::SetOfVec::try_from(set).unwrap(),
        ));
    }
    sd
}
