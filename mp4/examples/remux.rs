//! Remuxes one CMAF video file (and optionally one audio file) into a
//! faststart MP4, as downloads are made, for benchmarks
//! (`benches/media_breadth.sh`) and by hand:
//! `cargo run -p goflix-mp4 --example remux -- VIDEO.mp4 [AUDIO.mp4] OUT.mp4`.

use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (video, audio, out) = match args.as_slice() {
        [video, out] => (video, None, out),
        [video, audio, out] => (video, Some(audio), out),
        _ => {
            eprintln!("usage: remux VIDEO.mp4 [AUDIO.mp4] OUT.mp4");
            std::process::exit(2);
        }
    };
    match goflix_mp4::progressive::write(Path::new(video), audio.map(Path::new), Path::new(out)) {
        Ok(written) => println!("{} bytes, {:.3} s", written.bytes, written.duration_s),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
