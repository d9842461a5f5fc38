//! Ladder planning: from what the probe found to the renditions to encode.
//!
//! A pure function of the source's geometry and frame rate, so it is tested
//! without media. Rungs follow the usual 1080p…240p heights, never upscale,
//! keep the display aspect ratio (sample aspect ratio applied) and have even
//! dimensions, as 4:2:0 chroma needs.

/// The heights Goflix encodes, highest first, with their default video bitrate
/// in bits per second at up to 30 frames per second.
const RUNGS: [(u32, u64); 5] = [
    (1080, 5_000_000),
    (720, 2_800_000),
    (480, 1_400_000),
    (360, 800_000),
    (240, 400_000),
];

/// The highest output frame rate; faster sources are halved until they fit.
const MAX_FPS: f64 = 60.0;

/// What the ladder needs to know about the source video stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceVideo {
    /// Coded width in pixels.
    pub width: u32,
    /// Coded height in pixels.
    pub height: u32,
    /// Sample (pixel) aspect ratio as `(num, den)`; `(0, _)` means unknown, i.e. square.
    pub sample_aspect: (u32, u32),
    /// Average frame rate as `(num, den)`; `(0, _)` means unknown.
    pub frame_rate: (u32, u32),
}

/// One video rendition to encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rung {
    /// `720p`, also the file stem.
    pub name: String,
    /// Output width in pixels (even).
    pub width: u32,
    /// Output height in pixels (even).
    pub height: u32,
    /// Target average bitrate in bits per second.
    pub bitrate: u64,
    /// VBV maximum rate in bits per second.
    pub maxrate: u64,
    /// VBV buffer size in bits.
    pub bufsize: u64,
}

/// Every video rendition plus the shared output frame rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ladder {
    /// Rungs, highest first; never empty.
    pub rungs: Vec<Rung>,
    /// Output frame rate as `(num, den)`, the same for every rung.
    pub frame_rate: (u32, u32),
}

/// Plans the ladder for a source.
pub fn plan(source: &SourceVideo) -> Ladder {
    let frame_rate = output_frame_rate(source.frame_rate);
    let fps = f64::from(frame_rate.0) / f64::from(frame_rate.1);
    let rate_factor = if fps > 31.0 { 1.5 } else { 1.0 };
    let aspect = display_aspect(source);
    let source_height = even(source.height);
    let mut heights: Vec<(u32, u64)> = RUNGS
        .iter()
        .copied()
        .filter(|&(height, _)| height <= source_height)
        .collect();
    if heights.is_empty() {
        let (smallest, smallest_rate) = RUNGS[RUNGS.len() - 1];
        let scaled = smallest_rate * u64::from(source_height) / u64::from(smallest);
        heights.push((source_height, scaled.max(100_000)));
    }
    let rungs = heights
        .into_iter()
        .map(|(height, rate)| {
            let bitrate = (rate as f64 * rate_factor) as u64;
            Rung {
                name: format!("{height}p"),
                width: even_round(f64::from(height) * aspect),
                height,
                bitrate,
                maxrate: bitrate * 3 / 2,
                bufsize: bitrate * 2,
            }
        })
        .collect();
    Ladder { rungs, frame_rate }
}

/// The source's frame rate, halved until it is at most 60; 25 when unknown.
pub fn output_frame_rate((num, den): (u32, u32)) -> (u32, u32) {
    if num == 0 || den == 0 || f64::from(num) / f64::from(den) < 1.0 {
        return (25, 1);
    }
    let (mut num, mut den) = (num, den);
    while f64::from(num) / f64::from(den) > MAX_FPS {
        if num % 2 == 0 {
            num /= 2;
        } else {
            den *= 2;
        }
    }
    (num, den)
}

/// Display width over height.
fn display_aspect(source: &SourceVideo) -> f64 {
    let (sar_num, sar_den) = source.sample_aspect;
    let sar = if sar_num == 0 || sar_den == 0 {
        1.0
    } else {
        f64::from(sar_num) / f64::from(sar_den)
    };
    f64::from(source.width.max(1)) * sar / f64::from(source.height.max(1))
}

/// The largest even number not above `value`, at least 2.
fn even(value: u32) -> u32 {
    (value & !1).max(2)
}

/// The nearest even integer to `value`, at least 2.
fn even_round(value: f64) -> u32 {
    ((value / 2.0).round() as u32 * 2).max(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn source(width: u32, height: u32) -> SourceVideo {
        SourceVideo {
            width,
            height,
            sample_aspect: (1, 1),
            frame_rate: (30, 1),
        }
    }

    #[test]
    fn full_hd_gets_every_rung() {
        let ladder = plan(&source(1920, 1080));
        let names: Vec<_> = ladder.rungs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["1080p", "720p", "480p", "360p", "240p"]);
        assert_eq!((ladder.rungs[1].width, ladder.rungs[1].height), (1280, 720));
        assert_eq!((ladder.rungs[2].width, ladder.rungs[2].height), (854, 480));
        assert_eq!(ladder.rungs[1].maxrate, 4_200_000);
        assert_eq!(ladder.rungs[1].bufsize, 5_600_000);
    }

    #[test]
    fn never_upscales() {
        let names: Vec<_> = plan(&source(1280, 720))
            .rungs
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["720p", "480p", "360p", "240p"]);
    }

    #[test]
    fn tiny_source_gets_one_rung_at_its_even_height() {
        let ladder = plan(&source(321, 181));
        assert_eq!(ladder.rungs.len(), 1);
        assert_eq!(ladder.rungs[0].name, "180p");
        assert_eq!((ladder.rungs[0].width, ladder.rungs[0].height), (320, 180));
    }

    #[test]
    fn anamorphic_source_uses_display_aspect() {
        // DVD PAL 16:9: 720x576 with SAR 64:45.
        let ladder = plan(&SourceVideo {
            sample_aspect: (64, 45),
            ..source(720, 576)
        });
        let top = &ladder.rungs[0];
        assert_eq!((top.width, top.height), (854, 480));
    }

    #[test]
    fn frame_rate_is_kept_up_to_sixty_and_halved_above() {
        assert_eq!(output_frame_rate((30000, 1001)), (30000, 1001));
        assert_eq!(output_frame_rate((60, 1)), (60, 1));
        assert_eq!(output_frame_rate((120, 1)), (60, 1));
        assert_eq!(output_frame_rate((119_880, 1000)), (59_940, 1000));
        assert_eq!(output_frame_rate((0, 1)), (25, 1));
        assert_eq!(plan(&source(640, 360)).frame_rate, (30, 1));
    }

    #[test]
    fn high_frame_rate_gets_more_bits() {
        let fast = plan(&SourceVideo {
            frame_rate: (60, 1),
            ..source(1280, 720)
        });
        assert_eq!(fast.rungs[0].bitrate, 4_200_000);
    }

    proptest! {
        #[test]
        fn ladder_invariants(
            width in 2u32..8000,
            height in 2u32..5000,
            sar_num in 0u32..100,
            sar_den in 1u32..100,
            fps_num in 0u32..300_000,
            fps_den in 1u32..10_000,
        ) {
            let src = SourceVideo {
                width,
                height,
                sample_aspect: (sar_num, sar_den),
                frame_rate: (fps_num, fps_den),
            };
            let ladder = plan(&src);
            prop_assert!(!ladder.rungs.is_empty());
            let aspect = display_aspect(&src);
            for rung in &ladder.rungs {
                prop_assert!(rung.height <= height.max(2));
                prop_assert_eq!(rung.width % 2, 0);
                prop_assert_eq!(rung.height % 2, 0);
                prop_assert!(rung.width >= 2);
                let expected = f64::from(rung.height) * aspect;
                prop_assert!(f64::from(rung.width) - expected.max(2.0) <= 1.0 + 1e-9);
                prop_assert!(expected - f64::from(rung.width) <= 1.0 + 1e-9);
                prop_assert!(rung.maxrate > rung.bitrate && rung.bufsize > rung.maxrate);
            }
            for pair in ladder.rungs.windows(2) {
                prop_assert!(pair[0].height > pair[1].height);
            }
            let (num, den) = ladder.frame_rate;
            let fps = f64::from(num) / f64::from(den);
            prop_assert!((1.0..=MAX_FPS).contains(&fps));
        }
    }
}
