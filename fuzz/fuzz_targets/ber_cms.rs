//! Arbitrary bytes into the BER normaliser and the CMS decoder: neither may panic, overflow
//! the stack or run away; whatever the normaliser accepts must come out as stable DER.
#![no_main]

use cachet_smime::ber::{BerLimits, BerTree, normalize};
use cachet_smime::cms::decode_content_info;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = BerLimits::new(1 << 20);
    if let Ok(der) = normalize(data, &limits) {
        // DER is a fixed point of the normaliser.
        let again = normalize(&der, &limits);
        assert_eq!(
            again.as_deref(),
            Ok(&der[..]),
            "normalised output is not stable"
        );
        let tree = BerTree::parse(data, &limits).expect("parsed once already");
        for child in tree.children(tree.root()) {
            let _ = tree.raw(child);
            let _ = tree.to_der_with(child, &[child]);
        }
    }
    let _ = decode_content_info(data, &limits);
});
