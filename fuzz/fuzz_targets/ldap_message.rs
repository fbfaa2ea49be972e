//! Arbitrary bytes as LDAP requests (RFC 4511 §5.1) to the certificate directory: framing
//! (`frame_len`, which must refuse oversized and indefinite-length messages before they are
//! buffered), decoding (`decode_message`, bounded nesting), and — for a decoded search —
//! filter evaluation and the search itself over a small fixed tree, with and without paged
//! results. Nothing may panic; a search returns at most its size limit; a decoded message
//! re-encodes.
//!
//! Run with `RUSTC_BOOTSTRAP=1 cargo fuzz run ldap_message fuzz/corpus/ldap_message
//! fuzz/seeds/ldap_message` (seeds from `fuzz/seeds/make_ldap_seeds.py`).
#![no_main]

use cachet_directory::codec::{self, MAX_MESSAGE};
use cachet_directory::search::{self, Limits, PageRequest};
use cachet_directory::tree::{CaData, PersonData, Tree};
use ldap3_proto::proto::LdapOp;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn tree() -> &'static Tree {
    static T: OnceLock<Tree> = OnceLock::new();
    T.get_or_init(|| {
        let mut t = Tree::new(
            "example.test",
            None,
            &[CaData {
                slug: "issuing".into(),
                cert: vec![0x30, 0x00],
            }],
        );
        for (i, name) in ["Alice Liddell", "Bob", "Carol Q. Public"]
            .iter()
            .enumerate()
        {
            t.put_person(&PersonData {
                email: format!("user{i}@example.test"),
                name: Some(name.to_string()),
                certs: vec![(vec![0x30, 0x03, 0x02, 0x01, i as u8], 0, 2_000_000_000)],
            });
        }
        t
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(Some(len)) = codec::frame_len(data, MAX_MESSAGE) else {
        return;
    };
    assert!(len <= MAX_MESSAGE);
    if data.len() < len {
        return;
    }
    let Ok(req) = codec::decode_message(&data[..len]) else {
        return;
    };
    let mut out = bytes::BytesMut::new();
    codec::encode(req.msg.clone(), &mut out);
    if let LdapOp::SearchRequest(s) = &req.msg.op {
        let limits = Limits {
            size: 2,
            deadline: None,
        };
        let r = search::search(tree(), s, None, 1_800_000_000, limits);
        assert!(r.entries.len() <= 2);
        let page = PageRequest {
            size: 1,
            cookie: data.get(len..).unwrap_or_default().to_vec(),
        };
        let r = search::search(tree(), s, Some(&page), 1_800_000_000, limits);
        assert!(r.entries.len() <= 1);
        for e in r.entries {
            codec::encode(
                ldap3_proto::proto::LdapMsg {
                    msgid: 1,
                    op: LdapOp::SearchResultEntry(e),
                    ctrl: Vec::new(),
                },
                &mut out,
            );
        }
    }
});
