//! The database schema: the base (version `cachet-1`, the schema of the first release) and
//! the migrations applied after it, in order.
//!
//! The settings key `schema` names the newest migration applied. [`Store::create`] applies the
//! base and every migration in one transaction; [`Store::open`] upgrades a database whose
//! marker names an earlier version by applying the missing migrations, again in one
//! transaction, so an upgrade either happens whole or not at all. A marker this build does not
//! know (a newer Cachet's database, or another program's) is refused, never guessed at.
//!
//! The base statements are frozen: a data directory created by any earlier build holds exactly
//! them, and the upgrade test builds its "old" database from them. Every change goes into a new
//! [`Migration`]. Statements keep to SQL that PostgreSQL also accepts (no `INSERT OR
//! REPLACE`, no `AUTOINCREMENT`; `ON CONFLICT … DO UPDATE` where an upsert is needed).
//!
//! [`Store::create`]: crate::Store::create
//! [`Store::open`]: crate::Store::open

/// The marker of the base schema (settings key `schema`).
pub const BASE_ID: &str = "cachet-1";

/// One step of the schema after the base.
#[derive(Debug)]
pub struct Migration {
    /// The marker the database carries once this step is applied.
    pub id: &'static str,
    /// The statements, applied in order inside the upgrade's transaction.
    pub statements: &'static [&'static str],
}

/// Every migration after the base, oldest first. Append only.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        id: "cachet-2",
        statements: TRUST_STORE,
    },
    Migration {
        id: "cachet-3",
        statements: KEY_RECOVERY,
    },
    Migration {
        id: "cachet-4",
        statements: ACCOUNTS_AND_PUBLICATION,
    },
];

/// The marker of the newest schema this build writes.
pub fn latest_id() -> &'static str {
    MIGRATIONS.last().map_or(BASE_ID, |m| m.id)
}

/// The migrations a database at schema `id` still needs, oldest first; `None` when `id` is
/// not a schema this build knows.
pub fn pending(id: &str) -> Option<&'static [Migration]> {
    if id == BASE_ID {
        return Some(MIGRATIONS);
    }
    MIGRATIONS
        .iter()
        .position(|m| m.id == id)
        .map(|i| &MIGRATIONS[i + 1..])
}

/// `cachet-2`: the trust store (issue #4) — the relying party's side of the PKI, apart from
/// the organisation's own CAs: certificates trusted as anchors (RFC 5280 §6.1.1 (d)) with the
/// constraints put on them, certificates that may complete a path, and CRLs imported by hand
/// (the offline route when a distribution point cannot be reached).
const TRUST_STORE: &[&str] = &[
    // A trust anchor. `revocation` is the anchor's own policy (`off`, `prefer`, `require`);
    // NULL leaves it to the verifier's setting. Fingerprints are SHA-256 of the DER
    // certificate, lower-case hex.
    "CREATE TABLE trust_anchors (
        fingerprint TEXT PRIMARY KEY,
        subject     TEXT NOT NULL,
        label       TEXT,
        revocation  TEXT CHECK (revocation IN ('off', 'prefer', 'require')),
        der         BLOB NOT NULL,
        added_at    INTEGER NOT NULL
    )",
    // The rfc822Name subtrees an anchor may vouch for (RFC 5280 §4.2.1.10 forms:
    // `partner.example`, `.partner.example`, `alice@partner.example`). None: any address.
    "CREATE TABLE trust_anchor_emails (
        anchor  TEXT NOT NULL REFERENCES trust_anchors(fingerprint) ON DELETE CASCADE,
        subtree TEXT NOT NULL,
        PRIMARY KEY (anchor, subtree)
    )",
    // Certificates that may complete a path; trusted for nothing by themselves.
    "CREATE TABLE trust_intermediates (
        fingerprint TEXT PRIMARY KEY,
        subject     TEXT NOT NULL,
        der         BLOB NOT NULL,
        added_at    INTEGER NOT NULL
    )",
    // Imported CRLs. One row per scope — the same issuer (DER), the same
    // issuingDistributionPoint (its DER extension value; empty when absent) and the same
    // kind (complete or delta, RFC 5280 §5.2.4) — holding the newest CRL of that scope.
    // `crl_number` is NULL when the CRL has none or it exceeds 63 bits.
    "CREATE TABLE imported_crls (
        fingerprint TEXT PRIMARY KEY,
        issuer      TEXT NOT NULL,
        issuer_der  BLOB NOT NULL,
        idp_der     BLOB NOT NULL,
        delta       INTEGER NOT NULL CHECK (delta IN (0, 1)),
        crl_number  INTEGER,
        this_update INTEGER NOT NULL,
        next_update INTEGER,
        der         BLOB NOT NULL,
        imported_at INTEGER NOT NULL,
        UNIQUE (issuer_der, idp_der, delta)
    )",
];

/// `cachet-3`: the key archive and M-of-N recovery (issue #5). Every secret column holds a
/// sealed record written by `cachet-escrow` (DER with an explicit version) or sealed under
/// the key-encryption key: nothing here opens without M officers or the KEK. Whether
/// recovery is on is the setting `recovery` (`on`, `off`; absent in a data directory made
/// before this schema, which means off).
const KEY_RECOVERY: &[&str] = &[
    // The current split of the recovery key: at most one row. `sealed_key` is the escrow
    // crate's SealedRecoveryKey DER (the KRA private key sealed under a key that only M
    // shares rebuild); `kra_cert_der` the key-recovery-agent certificate archived keys are
    // encrypted to. `generation` is the split's 16-byte id, hex.
    "CREATE TABLE recovery_split (
        generation   TEXT PRIMARY KEY,
        threshold    INTEGER NOT NULL CHECK (threshold >= 1),
        officers     INTEGER NOT NULL CHECK (officers >= threshold),
        kra_serial   TEXT NOT NULL,
        kra_cert_der BLOB NOT NULL,
        sealed_key   BLOB NOT NULL,
        created_at   INTEGER NOT NULL
    )",
    // One officer's share of the current split, sealed for that officer (SealedShare DER).
    "CREATE TABLE recovery_shares (
        generation TEXT NOT NULL REFERENCES recovery_split(generation) ON DELETE CASCADE,
        officer    TEXT NOT NULL,
        idx        INTEGER NOT NULL CHECK (idx BETWEEN 1 AND 255),
        scheme     TEXT NOT NULL CHECK (scheme IN ('passphrase', 'certificate')),
        der        BLOB NOT NULL,
        PRIMARY KEY (generation, officer),
        UNIQUE (generation, idx)
    )",
    // Archived encryption keys (ArchivedKey DER: PKCS#8 in AuthEnvelopedData to the KRA
    // certificate), one per encryption certificate, stored with the certificate.
    "CREATE TABLE archived_keys (
        serial      TEXT PRIMARY KEY REFERENCES certificates(serial),
        email       TEXT NOT NULL,
        not_after   INTEGER NOT NULL,
        kra_sha256  TEXT NOT NULL,
        der         BLOB NOT NULL,
        archived_at INTEGER NOT NULL
    )",
    "CREATE INDEX archived_keys_by_email ON archived_keys(email)",
    // Recovery requests (RecoveryRequest DER, which holds the approvals) with their indexable
    // facts. `sealed_secret` is the request's private key sealed under the key-encryption key
    // (the request id as associated data); NULL once the request is closed.
    "CREATE TABLE recovery_requests (
        id            TEXT PRIMARY KEY,
        purpose       TEXT NOT NULL CHECK (purpose IN ('recover', 'reshare')),
        email         TEXT,
        serial        TEXT,
        state         TEXT NOT NULL CHECK (state IN ('pending', 'completed', 'expired', 'cancelled')),
        created_at    INTEGER NOT NULL,
        expires_at    INTEGER NOT NULL,
        der           BLOB NOT NULL,
        sealed_secret BLOB
    )",
    "CREATE INDEX recovery_requests_pending ON recovery_requests(state, expires_at)",
];

/// `cachet-4`: accounts with automatic enrollment and renewal, API tokens, and the
/// delegated OCSP signers of `cachet serve` (issue #6).
const ACCOUNTS_AND_PUBLICATION: &[&str] = &[
    // One row per mailbox Cachet enrolls. `state`: `active` (enrolled, renewed, published),
    // `disabled` (certificates revoked, kept for the record; can be enabled again) or
    // `removed` (certificates revoked; the row stays so the address is not silently reused
    // with the old history). `password_hash` is an Argon2id PHC string for EST's HTTP Basic
    // authentication (RFC 7030 §3.2.3); NULL: no password, EST only with a client certificate.
    "CREATE TABLE accounts (
        email         TEXT PRIMARY KEY,
        name          TEXT,
        state         TEXT NOT NULL CHECK (state IN ('active', 'disabled', 'removed')),
        password_hash TEXT,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL
    )",
    // Lookups treat addresses case-insensitively, so two accounts whose addresses differ
    // only in case would publish into one lookup: creation checks this index first.
    "CREATE INDEX accounts_by_lower_email ON accounts(lower(email))",
    // A renewed certificate names its successor; superseded certificates leave every lookup
    // (their archived keys stay recoverable).
    "ALTER TABLE certificates ADD COLUMN superseded_by TEXT",
    "ALTER TABLE certificates ADD COLUMN superseded_at INTEGER",
    // Who holds the key: `generated` (Cachet made it and handed it over, so renewal may make
    // the next one) or `csr` (the subscriber's own key: only the subscriber can renew, e.g.
    // by EST re-enrollment). NULL for certificates issued before this schema.
    "ALTER TABLE certificates ADD COLUMN key_origin TEXT CHECK (key_origin IN ('generated', 'csr'))",
    "CREATE INDEX certificates_live ON certificates(not_after) WHERE revoked_at IS NULL AND superseded_by IS NULL",
    // Lookups match addresses case-insensitively (`lower(email) = lower($1)`): without this
    // expression index each /certs request would scan every certificate.
    "CREATE INDEX certificates_by_lower_email ON certificates(lower(email))",
    // Bearer tokens of the REST API. The token is `cachet_<id>_<secret>`; only the SHA-256
    // of the secret is kept, so a stolen database yields no usable token.
    "CREATE TABLE api_tokens (
        id            TEXT PRIMARY KEY,
        name          TEXT NOT NULL,
        role          TEXT NOT NULL CHECK (role IN ('admin', 'recovery-officer', 'auditor')),
        secret_sha256 TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        revoked_at    INTEGER
    )",
    // Delegated OCSP responders (RFC 6960 §4.2.2.2): a short-lived certificate with
    // id-kp-OCSPSigning and id-pkix-ocsp-nocheck issued by the CA `ca`, its key sealed under
    // the key-encryption key. The newest one that is still valid signs responses.
    "CREATE TABLE ocsp_signers (
        serial     TEXT PRIMARY KEY,
        ca         TEXT NOT NULL REFERENCES cas(slug),
        cert_der   BLOB NOT NULL,
        sealed_key BLOB NOT NULL,
        not_after  INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    )",
    "CREATE INDEX ocsp_signers_by_ca ON ocsp_signers(ca, not_after)",
    // Keys Cachet generated on the user's behalf when it renewed a certificate, waiting to be
    // handed over once (as a PKCS#12 with a one-time password) and then deleted. The PKCS#8
    // is sealed under the key-encryption key with the serial as associated data. This is a
    // delivery queue, not an archive: a row lives only until the user collects the key.
    "CREATE TABLE pending_keys (
        serial     TEXT PRIMARY KEY REFERENCES certificates(serial),
        email      TEXT NOT NULL,
        sealed_key BLOB NOT NULL,
        created_at INTEGER NOT NULL
    )",
    "CREATE INDEX pending_keys_by_email ON pending_keys(email)",
];

/// The base schema (`cachet-1`). Frozen: change the schema with a [`Migration`].
pub const STATEMENTS: &[&str] = &[
    "CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )",
    // One row per CA: its certificate, its private key sealed under the key-encryption key,
    // and the next CRL number.
    "CREATE TABLE cas (
        slug            TEXT PRIMARY KEY,
        role            TEXT NOT NULL CHECK (role IN ('root', 'issuing')),
        parent          TEXT REFERENCES cas(slug),
        cert_der        BLOB NOT NULL,
        sealed_key      BLOB NOT NULL,
        next_crl_number INTEGER NOT NULL DEFAULT 1,
        created_at      INTEGER NOT NULL
    )",
    "CREATE TABLE certificates (
        serial            TEXT PRIMARY KEY,
        ca                TEXT NOT NULL REFERENCES cas(slug),
        email             TEXT NOT NULL,
        subject           TEXT NOT NULL,
        profile           TEXT NOT NULL,
        key_type          TEXT NOT NULL,
        spki_sha256       TEXT NOT NULL,
        not_before        INTEGER NOT NULL,
        not_after         INTEGER NOT NULL,
        issued_at         INTEGER NOT NULL,
        der               BLOB NOT NULL,
        revoked_at        INTEGER,
        revocation_reason TEXT
    )",
    "CREATE INDEX certificates_by_email ON certificates(email)",
    "CREATE INDEX certificates_by_key ON certificates(spki_sha256)",
    "CREATE INDEX certificates_revoked ON certificates(ca, revoked_at) WHERE revoked_at IS NOT NULL",
    "CREATE TABLE crls (
        ca          TEXT NOT NULL REFERENCES cas(slug),
        number      INTEGER NOT NULL,
        this_update INTEGER NOT NULL,
        next_update INTEGER NOT NULL,
        der         BLOB NOT NULL,
        PRIMARY KEY (ca, number)
    )",
    // Append-only: nothing in Cachet updates or deletes these rows.
    "CREATE TABLE audit (
        seq       INTEGER PRIMARY KEY,
        at        INTEGER NOT NULL,
        actor     TEXT NOT NULL,
        action    TEXT NOT NULL,
        serial    TEXT,
        subject   TEXT,
        detail    TEXT NOT NULL,
        prev_hash BLOB NOT NULL,
        hash      BLOB NOT NULL
    )",
];
