//! A multipart part's header section and the upload's `Content-Type`, as a
//! client sends them: parsing never panics, and what it finds (a field
//! name, a boundary) is no longer than the bytes it came from.

#![no_main]

use goflix_control_api::multipart;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(headers) = multipart::parse_header_section(data) {
        assert!(headers.name.len() <= data.len(), "{headers:?}");
    }
    if let Ok(content_type) = std::str::from_utf8(data) {
        if let Ok(boundary) = multipart::form_boundary(content_type) {
            assert!(!boundary.is_empty() && boundary.len() <= content_type.len());
        }
    }
});
