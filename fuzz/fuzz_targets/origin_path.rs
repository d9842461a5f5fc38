//! Request paths as sent (still percent-encoded): whatever the origin's
//! path checks accept decodes to segments that cannot leave the video's
//! folder (no separator, no `.` or `..`, no NUL or backslash), and every
//! segment accepted as a video id, version or file name has that shape.

#![no_main]

use goflix_origin::paths;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    if paths::check_raw(path).is_err() {
        return;
    }
    assert!(path.len() <= paths::MAX_PATH_LEN);
    for raw in path.split('/') {
        let decoded = percent_encoding::percent_decode_str(raw).collect::<Vec<u8>>();
        assert!(
            !decoded.iter().any(|b| matches!(b, b'/' | b'\\' | 0)),
            "{path:?}: segment {raw:?} decodes to {decoded:?}"
        );
        assert!(
            decoded != b"." && decoded != b"..",
            "{path:?}: segment {raw:?} decodes to a relative step"
        );
        if let Ok(id) = paths::video_id(raw) {
            assert_eq!(id.to_string(), raw, "a video id segment is canonical");
        }
        if let Ok(version) = paths::version(raw) {
            assert!(version.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        }
        if paths::file_name(raw).is_ok() {
            assert!(
                raw.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.'),
                "{raw:?} accepted as a file name"
            );
        }
    }
});
