//! Arbitrary bytes as a mail message into the MIME layer and the S/MIME message functions:
//! header parsing, Content-Type, multipart splitting, layer classification, 7-bit
//! re-encoding, canonicalisation and whole-message verification. Nothing may panic or run
//! away; re-encoded output must be 7-bit safe and canonicalisation idempotent.
#![no_main]

use cachet_smime::ber::BerLimits;
use cachet_smime::message::verify_message;
use cachet_smime::mime::canon::to_crlf;
use cachet_smime::mime::encode::{base64_decode, make_7bit_safe, needs_encoding};
use cachet_smime::mime::header::{ContentType, parse_header_block};
use cachet_smime::mime::smime::{classify, split_message};
use cachet_smime::mime::{Limits, multipart};
use cachet_smime::signed::VerifyOptions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_header_bytes: 64 * 1024, max_fields: 200, max_parts: 200, max_depth: 8 };
    if let Ok(h) = parse_header_block(data, &limits) {
        for f in &h.fields {
            let _ = ContentType::parse(&f.unfolded());
        }
        if let Ok(ct) = h.content_type()
            && let Some(b) = ct.param("boundary")
        {
            let _ = multipart::split(&data[h.body_start..], b, &limits);
        }
    }
    let _ = classify(data, &limits);
    if let Ok(split) = split_message(data, &limits)
        && let Ok(safe) = make_7bit_safe(&split.inner, &limits)
    {
        // Whatever was re-encoded must now be safe to send through any relay.
        if matches!(safe, std::borrow::Cow::Owned(_)) {
            let h = parse_header_block(&safe, &limits).expect("re-encoded entity has headers");
            let body = &safe[h.body_start..];
            if !h.content_type().is_ok_and(|c| c.top_level() == "multipart") {
                assert!(!needs_encoding(body), "re-encoded body is not 7-bit safe");
            }
        }
    }
    let once = to_crlf(data).into_owned();
    assert_eq!(to_crlf(&once), &once[..], "canonicalisation is not idempotent");
    let _ = base64_decode(data);
    let _ = verify_message(data, &VerifyOptions::default(), &limits, &BerLimits::new(1 << 20));
});
