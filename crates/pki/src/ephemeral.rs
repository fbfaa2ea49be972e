//! An in-memory CA hierarchy — root, issuing CA and subscriber certificates under the same
//! profiles the real CA uses — for benchmarks (`cachet bench`) and tests. Nothing is stored;
//! keys live as long as the value.

use crate::cert::ParsedCertificate;
use crate::error::Result;
use crate::issue::{random_serial, sign_certificate};
use crate::name::NameBuilder;
use crate::profile::{
    Profile, PublicationUrls, SubscriberRequest, issuing_ca_template, root_ca_template,
    subscriber_template,
};
use crate::time::UnixTime;
use cachet_crypto::{KeyType, PrivateKey};

/// A root and an issuing CA with their keys.
pub struct EphemeralPki {
    /// The self-signed root.
    pub root: ParsedCertificate,
    /// The root's key.
    pub root_key: PrivateKey,
    /// The issuing CA, signed by the root.
    pub issuing: ParsedCertificate,
    /// The issuing CA's key.
    pub issuing_key: PrivateKey,
    not_before: UnixTime,
}

impl EphemeralPki {
    /// A hierarchy whose CAs are valid from `not_before`, with keys of type `kt`.
    pub fn new(kt: KeyType, not_before: UnixTime) -> Result<Self> {
        let root_key = PrivateKey::generate(kt)?;
        let name = NameBuilder::new().common_name("Ephemeral Root")?.to_der()?;
        let t = root_ca_template(
            name.clone(),
            root_key.public_key_der().to_vec(),
            random_serial()?.to_vec(),
            not_before,
        )?;
        let root = ParsedCertificate::from_der(&sign_certificate(&t, &name, &root_key)?)?;
        let issuing_key = PrivateKey::generate(kt)?;
        let iname = NameBuilder::new()
            .common_name("Ephemeral Issuing CA")?
            .to_der()?;
        let urls = PublicationUrls::under("http://pki.example.com", "root");
        let t = issuing_ca_template(
            iname,
            issuing_key.public_key_der().to_vec(),
            random_serial()?.to_vec(),
            not_before,
            &root,
            &urls,
        )?;
        let issuing = ParsedCertificate::from_der(&sign_certificate(&t, &name, &root_key)?)?;
        Ok(EphemeralPki {
            root,
            root_key,
            issuing,
            issuing_key,
            not_before,
        })
    }

    /// A subscriber certificate for `email` under `profile` with a fresh `kt` key, valid for
    /// `validity_days` from the hierarchy's start.
    pub fn subscriber(
        &self,
        email: &str,
        profile: Profile,
        kt: KeyType,
        validity_days: u32,
    ) -> Result<(ParsedCertificate, PrivateKey)> {
        let key = PrivateKey::generate(kt)?;
        let req = SubscriberRequest {
            email,
            profile,
            spki_der: key.public_key_der(),
            not_before: self.not_before,
            validity_days,
            non_repudiation: false,
        };
        let urls = PublicationUrls::under("http://pki.example.com", "issuing");
        let t = subscriber_template(&req, random_serial()?.to_vec(), &self.issuing, &urls)?;
        let cert = ParsedCertificate::from_der(&sign_certificate(
            &t,
            &self.issuing.subject_der()?,
            &self.issuing_key,
        )?)?;
        Ok((cert, key))
    }
}
