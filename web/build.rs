//! Embeds the web assets: our own scripts and styles from `assets/` and the
//! pinned libraries from `node_modules/` (`npm ci` in this directory, run by
//! `scripts/serve.sh`, `scripts/test.sh` and the Dockerfile). Each asset is
//! named after a digest of its bytes (`console.3f2a…9c.js`), so it can be
//! served `immutable`; relative module imports between our scripts
//! (`from "./session.js"`) are rewritten to the hashed names first, so a
//! script's name changes whenever anything it imports changes. Every asset
//! is stored three times: as is, gzip and brotli (both at their best levels,
//! once, here), and `$OUT_DIR/assets.rs` lists them.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

/// Libraries from `node_modules`, under the names our pages use.
const LIBRARIES: &[(&str, &str)] = &[
    ("hls.js", "hls.js/dist/hls.min.js"),
    ("tus.js", "tus-js-client/dist/tus.min.js"),
];

/// Hex digits of the content digest in a hashed name.
const DIGEST_CHARS: usize = 16;

fn main() {
    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it"));
    println!("cargo:rerun-if-changed=assets");
    println!("cargo:rerun-if-changed=package-lock.json");

    let mut sources = BTreeMap::new();
    for entry in fs::read_dir(root.join("assets")).expect("web/assets") {
        let path = entry.expect("web/assets entry").path();
        let name = file_name(&path);
        println!("cargo:rerun-if-changed=assets/{name}");
        sources.insert(name, fs::read(&path).expect("read asset"));
    }
    let modules = root.join("node_modules");
    for (name, file) in LIBRARIES {
        let path = modules.join(file);
        let bytes = fs::read(&path).unwrap_or_else(|_| {
            panic!(
                "{} is missing: run `npm ci` in {} first (scripts/serve.sh and scripts/test.sh do)",
                path.display(),
                root.display()
            )
        });
        println!("cargo:rerun-if-changed={}", path.display());
        sources.insert((*name).to_owned(), bytes);
    }

    let hashed = hash_names(&sources);
    let dir = out.join("assets");
    fs::create_dir_all(&dir).expect("create $OUT_DIR/assets");
    let mut table = String::from("&[\n");
    for (logical, (file, bytes)) in &hashed {
        fs::write(dir.join(file), bytes).expect("write asset");
        fs::write(dir.join(format!("{file}.gz")), gzip(bytes)).expect("write gzip");
        fs::write(dir.join(format!("{file}.br")), brotli(bytes)).expect("write brotli");
        let path = dir.join(file);
        let path = path.display();
        writeln!(
            table,
            "    Asset {{ logical: {logical:?}, file: {file:?}, content_type: {:?}, \
             identity: include_bytes!({:?}), gzip: include_bytes!({:?}), brotli: include_bytes!({:?}) }},",
            content_type(logical),
            path.to_string(),
            format!("{path}.gz"),
            format!("{path}.br"),
        )
        .expect("format");
    }
    table.push(']');
    fs::write(out.join("assets.rs"), table).expect("write assets.rs");
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .and_then(|n| n.to_str())
        .expect("asset names are UTF-8")
        .to_owned()
}

/// Hashed name and final bytes of every asset, by logical name. A script
/// is named only once every script it imports is, since its bytes contain
/// their names.
fn hash_names(sources: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, (String, Vec<u8>)> {
    let mut done: BTreeMap<String, (String, Vec<u8>)> = BTreeMap::new();
    while done.len() < sources.len() {
        let before = done.len();
        for (name, bytes) in sources {
            if done.contains_key(name) {
                continue;
            }
            let Some(bytes) = rewrite_imports(name, bytes, &done, sources) else {
                continue;
            };
            let digest = hex::encode(Sha256::digest(&bytes));
            let (stem, extension) = name.rsplit_once('.').expect("assets have an extension");
            let file = format!("{stem}.{}.{extension}", &digest[..DIGEST_CHARS]);
            done.insert(name.clone(), (file, bytes));
        }
        assert!(
            done.len() > before,
            "web/assets: the scripts import each other in a cycle"
        );
    }
    done
}

/// `bytes` with every `"./name"` of a known asset replaced by its hashed
/// name, or `None` while one of those is not named yet.
fn rewrite_imports(
    name: &str,
    bytes: &[u8],
    done: &BTreeMap<String, (String, Vec<u8>)>,
    sources: &BTreeMap<String, Vec<u8>>,
) -> Option<Vec<u8>> {
    if !name.ends_with(".js") || LIBRARIES.iter().any(|(library, _)| *library == name) {
        return Some(bytes.to_vec());
    }
    let mut text = String::from_utf8(bytes.to_vec()).expect("our scripts are UTF-8");
    for other in sources.keys().filter(|other| *other != name) {
        let quoted = format!("\"./{other}\"");
        if text.contains(&quoted) {
            let (file, _) = done.get(other)?;
            text = text.replace(&quoted, &format!("\"./{file}\""));
        }
    }
    Some(text.into_bytes())
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, extension)| extension) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("ico") => "image/x-icon",
        other => panic!("web/assets: no content type for {other:?}"),
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        encoder.write_all(bytes).expect("brotli in memory");
    }
    out
}
