//! The database schema, version 1. Applied in one transaction when a store is created.

/// Identifies a Cachet database and its schema version (settings key `schema`).
pub const SCHEMA_ID: &str = "cachet-1";

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
