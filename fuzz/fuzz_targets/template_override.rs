//! Notification template overrides as an admin sends them to
//! `PUT /notification-templates/{name}`: checking one (size, syntax, a
//! render against the sample context on a fuel budget) never panics, hangs
//! or exhausts memory, whatever the source.

#![no_main]

use goflix_control_api::notify::templates;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn names() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| templates::names().collect())
}

fuzz_target!(|data: &[u8]| {
    let Some((&slot, source)) = data.split_first() else {
        return;
    };
    let Ok(source) = std::str::from_utf8(source) else {
        return;
    };
    let names = names();
    let name = &names[usize::from(slot) % names.len()];
    let checked = templates::check_override(name, source);
    assert!(checked.is_some(), "{name} is a template name");
});
