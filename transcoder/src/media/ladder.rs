//! Ladder planning: from what the probe found to the renditions to encode.
//!
//! A pure function of the source (geometry, rotation, frame rate, bitrate)
//! and the configured rungs, so it is tested without media. Rungs never
//! upscale, never ask for more bits than the source carries, keep the display
//! aspect ratio (sample aspect ratio and rotation applied) and have even
//! dimensions, as 4:2:0 chroma needs. The output frame rate is the source's,
//! snapped to the nearest broadcast rate when it is close to one (variable frame rate
//! sources report an irregular average) and halved while above 60.
//!
//! The ladder mode ([`LadderMode`], from the job) decides how each rung
//! spends bits: `fixed` encodes at the rung's bitrate (x264 ABR, VBV peak
//! 1.5×); `per-title` at a constant quality (x264 CRF, [`per_title_crf`])
//! with the rung's bitrate as the VBV cap, so a picture that is easy to
//! code takes fewer bits and a hard one about what `fixed` gives it (a
//! one-second VBV buffer bounds its peaks).
//!
//! The codec ([`VideoCodec`], from the job) names the rungs (`720p`,
//! `720p_av1`, `720p_hevc`) and scales their bits: an AV1 rung gets
//! [`AV1_BITRATE_PERCENT`] of the H.264 rung's bitrate (and caps), at
//! SVT-AV1 preset [`AV1_PRESET`], an HEVC rung [`HEVC_BITRATE_PERCENT`] at
//! x265 preset [`HEVC_PRESET`]; `per-title` rungs of every codec use a
//! capped CRF ([`per_title_crf`]). Every codec's rungs share the frame rate and the
//! fixed GOP, so their keyframes fall on the same frames.

use goflix_shared::domain::{LadderMode, VideoCodec};

/// The heights Goflix encodes by default, highest first, with their video
/// bitrate in bits per second at up to 30 frames per second.
const DEFAULT_RUNGS: [(u32, u64); 5] = [
    (1080, 5_000_000),
    (720, 2_800_000),
    (480, 1_400_000),
    (360, 800_000),
    (240, 400_000),
];

/// The highest output frame rate; faster sources are halved until they fit.
const MAX_FPS: f64 = 60.0;

/// Rates an average frame rate within [`SNAP_TOLERANCE`] is snapped to.
const STANDARD_RATES: [(u32, u32); 10] = [
    (24000, 1001),
    (24, 1),
    (25, 1),
    (30000, 1001),
    (30, 1),
    (50, 1),
    (60000, 1001),
    (60, 1),
    (120_000, 1001),
    (120, 1),
];

/// Relative distance under which a frame rate counts as a standard one.
const SNAP_TOLERANCE: f64 = 0.03;

/// No rung is capped below this, whatever the source's bitrate.
const MIN_BITRATE: u64 = 32_000;

/// The x264 constant rate factor of `per-title` rungs of 720 lines and
/// more. Calibrated with VMAF (`docs/design/per-title-ladder.md`): a rung
/// that reaches its cap scores what `fixed` gives it (±0.8) at 18 or 21;
/// under its cap, 21 costs a 720p rung 1.7 points for a third fewer bits.
pub const PER_TITLE_CRF_HD: u8 = 21;

/// The x264 constant rate factor of smaller `per-title` rungs: scaled up to
/// the screen, their artefacts grow with them, and at 21 they lost 2–3
/// VMAF points against `fixed`; at 18, at most 1.5 for up to a third fewer
/// bits.
pub const PER_TITLE_CRF_SD: u8 = 18;

/// The SVT-AV1 constant rate factor of `per-title` AV1 rungs of 720 lines
/// and more (SVT-AV1's scale runs to 63; see `docs/design/per-title-ladder.md`).
pub const PER_TITLE_AV1_CRF_HD: u8 = 34;

/// The SVT-AV1 constant rate factor of smaller `per-title` AV1 rungs.
pub const PER_TITLE_AV1_CRF_SD: u8 = 30;

/// An AV1 rung's bitrate (and caps) as a percentage of the H.264 rung's:
/// AV1 codes the same picture in fewer bits.
pub const AV1_BITRATE_PERCENT: u64 = 60;

/// The SVT-AV1 preset of every AV1 rung: about 1.3× realtime for one
/// 1080p encoder on two cores.
pub const AV1_PRESET: &str = "10";

/// The x265 constant rate factor of `per-title` HEVC rungs of 720 lines
/// and more: x265's scale sits about four steps above x264's for the same
/// picture (its default, 28, matches x264's 23).
pub const PER_TITLE_HEVC_CRF_HD: u8 = PER_TITLE_CRF_HD + 4;

/// The x265 constant rate factor of smaller `per-title` HEVC rungs.
pub const PER_TITLE_HEVC_CRF_SD: u8 = PER_TITLE_CRF_SD + 4;

/// An HEVC rung's bitrate (and caps) as a percentage of the H.264 rung's.
pub const HEVC_BITRATE_PERCENT: u64 = 70;

/// The x265 preset of every HEVC rung: `veryfast` encodes a 1080p rung
/// as fast as `superfast` on one thread here (16 frames a second) and
/// scores 4 VMAF points more at the same bitrate (94.1 against 90.0, a
/// clean `testsrc2` at 3.5 Mbit/s).
pub const HEVC_PRESET: &str = "veryfast";

/// The constant rate factor of a `per-title` `codec` rung whose short side is `lines`.
pub fn per_title_crf(codec: VideoCodec, lines: u32) -> u8 {
    match (codec, lines >= 720) {
        (VideoCodec::H264, true) => PER_TITLE_CRF_HD,
        (VideoCodec::H264, false) => PER_TITLE_CRF_SD,
        (VideoCodec::Av1, true) => PER_TITLE_AV1_CRF_HD,
        (VideoCodec::Av1, false) => PER_TITLE_AV1_CRF_SD,
        (VideoCodec::Hevc, true) => PER_TITLE_HEVC_CRF_HD,
        (VideoCodec::Hevc, false) => PER_TITLE_HEVC_CRF_SD,
    }
}

/// One configured rung: its height, its bitrate at up to 30 fps (×1.5 above)
/// and, optionally, its own x264 preset.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RungSpec {
    /// Output height in pixels.
    pub height: u32,
    /// Target video bitrate in bits per second at up to 30 frames per second.
    pub bitrate: u64,
    /// x264 preset for this rung; `None` uses the transcode's default.
    pub preset: Option<String>,
}

/// Goflix's default ladder: 1080p, 720p, 480p, 360p, 240p.
pub fn default_rungs() -> Vec<RungSpec> {
    DEFAULT_RUNGS
        .iter()
        .map(|&(height, bitrate)| RungSpec {
            height,
            bitrate,
            preset: None,
        })
        .collect()
}

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
    /// Clockwise rotation to apply for display: 0, 90, 180 or 270 degrees.
    pub rotation: u32,
    /// Video bitrate in bits per second; 0 means unknown.
    pub bit_rate: u64,
}

/// One video rendition to encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rung {
    /// `720p` (`720p_av1` for AV1, `720p_hevc` for HEVC), also the file stem.
    pub name: String,
    /// The codec it is encoded with.
    pub codec: VideoCodec,
    /// Output width in pixels (even).
    pub width: u32,
    /// Output height in pixels (even).
    pub height: u32,
    /// Target average bitrate in bits per second (`fixed`), or the cap a
    /// constant quality may not exceed on average (`per-title`).
    pub bitrate: u64,
    /// How the encoder spends bits.
    pub rate: RateControl,
    /// VBV maximum rate in bits per second.
    pub maxrate: u64,
    /// VBV buffer size in bits.
    pub bufsize: u64,
    /// x264 preset, SVT-AV1's for AV1, x265's for HEVC.
    pub preset: String,
}

/// How a rung's encoder spends bits; both under the rung's VBV limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateControl {
    /// The rung's bitrate on average (x264 ABR).
    Average,
    /// A constant quality (x264 CRF).
    Quality {
        /// The constant rate factor.
        crf: u8,
    },
}

/// Every video rendition plus the shared output frame rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ladder {
    /// Rungs, highest first; never empty.
    pub rungs: Vec<Rung>,
    /// Output frame rate as `(num, den)`, the same for every rung.
    pub frame_rate: (u32, u32),
}

/// Plans the `codec` ladder for a source from the configured rungs (highest
/// first); `preset` applies to H.264 rungs without their own, `mode`
/// decides the rate control.
pub fn plan(
    source: &SourceVideo,
    specs: &[RungSpec],
    preset: &str,
    mode: LadderMode,
    codec: VideoCodec,
) -> Ladder {
    let frame_rate = output_frame_rate(source.frame_rate);
    let fps = f64::from(frame_rate.0) / f64::from(frame_rate.1);
    let rate_factor = if fps > 31.0 { 1.5 } else { 1.0 };
    let aspect = display_aspect(source);
    let (display_width, display_height) = display_size(source);
    // Portrait video is laddered by its short side too: "1080p" is 1080x1920.
    let portrait = aspect < 1.0;
    let source_height = even(if portrait {
        display_width
    } else {
        display_height
    });
    let mut chosen: Vec<(u32, u64, Option<&str>)> = specs
        .iter()
        .filter(|spec| spec.height <= source_height && spec.height >= 2)
        .map(|spec| (spec.height & !1, spec.bitrate, spec.preset.as_deref()))
        .collect();
    if chosen.is_empty() {
        let smallest = specs.iter().min_by_key(|spec| spec.height);
        let (height, rate) = smallest.map_or((240, 400_000), |s| (s.height.max(2), s.bitrate));
        let scaled = rate * u64::from(source_height) / u64::from(height);
        chosen.push((
            source_height,
            scaled.max(100_000),
            smallest.and_then(|s| s.preset.as_deref()),
        ));
    }
    chosen.sort_by_key(|rung| std::cmp::Reverse(rung.0));
    chosen.dedup_by_key(|rung| rung.0);
    let cap = (source.bit_rate > 0).then_some(source.bit_rate.max(MIN_BITRATE));
    let rungs = chosen
        .into_iter()
        .map(|(height, rate, rung_preset)| {
            let wanted = (rate as f64 * rate_factor) as u64;
            let wanted = match codec {
                VideoCodec::H264 => wanted,
                VideoCodec::Av1 => wanted * AV1_BITRATE_PERCENT / 100,
                VideoCodec::Hevc => wanted * HEVC_BITRATE_PERCENT / 100,
            };
            let bitrate = cap.map_or(wanted, |cap| wanted.min(cap)).max(MIN_BITRATE);
            let long = even_round(f64::from(height) * if portrait { 1.0 / aspect } else { aspect });
            let (width, height) = if portrait {
                (height, long)
            } else {
                (long, height)
            };
            let (rate, maxrate, bufsize) = match mode {
                LadderMode::Fixed => (RateControl::Average, bitrate * 3 / 2, bitrate * 2),
                // A one-second buffer: a segment's peak stays near what
                // `fixed` allows.
                LadderMode::PerTitle => (
                    RateControl::Quality {
                        crf: per_title_crf(codec, width.min(height)),
                    },
                    bitrate,
                    bitrate,
                ),
            };
            let preset = match codec {
                VideoCodec::H264 => rung_preset.unwrap_or(preset),
                VideoCodec::Av1 => AV1_PRESET,
                VideoCodec::Hevc => HEVC_PRESET,
            };
            Rung {
                name: format!("{}p{}", width.min(height), codec.rendition_suffix()),
                codec,
                width,
                height,
                bitrate,
                rate,
                maxrate,
                bufsize,
                preset: preset.to_owned(),
            }
        })
        .collect();
    Ladder { rungs, frame_rate }
}

/// The source's frame rate snapped to the nearest standard rate within 3 %,
/// halved until it is at most 60; 25 when unknown.
pub fn output_frame_rate((num, den): (u32, u32)) -> (u32, u32) {
    if num == 0 || den == 0 || f64::from(num) / f64::from(den) < 1.0 {
        return (25, 1);
    }
    let fps = f64::from(num) / f64::from(den);
    let distance = |&(n, d): &(u32, u32)| {
        let standard = f64::from(n) / f64::from(d);
        (fps - standard).abs() / standard
    };
    let (mut num, mut den) = STANDARD_RATES
        .iter()
        .copied()
        .filter(|rate| distance(rate) <= SNAP_TOLERANCE)
        .min_by(|a, b| distance(a).total_cmp(&distance(b)))
        .unwrap_or((num, den));
    while f64::from(num) / f64::from(den) > MAX_FPS {
        if num % 2 == 0 {
            num /= 2;
        } else {
            den *= 2;
        }
    }
    (num, den)
}

/// Width and height as displayed (before the sample aspect ratio): coded size with 90° and 270° rotations swapped.
fn display_size(source: &SourceVideo) -> (u32, u32) {
    if source.rotation % 180 == 90 {
        (source.height, source.width)
    } else {
        (source.width, source.height)
    }
}

/// Display width over height, after sample aspect ratio and rotation.
fn display_aspect(source: &SourceVideo) -> f64 {
    let (sar_num, sar_den) = source.sample_aspect;
    let sar = if sar_num == 0 || sar_den == 0 {
        1.0
    } else {
        f64::from(sar_num) / f64::from(sar_den)
    };
    let aspect = f64::from(source.width.max(1)) * sar / f64::from(source.height.max(1));
    if source.rotation % 180 == 90 {
        1.0 / aspect
    } else {
        aspect
    }
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
    use VideoCodec::{Av1, Hevc, H264};

    fn source(width: u32, height: u32) -> SourceVideo {
        SourceVideo {
            width,
            height,
            sample_aspect: (1, 1),
            frame_rate: (30, 1),
            rotation: 0,
            bit_rate: 0,
        }
    }

    fn plan_default(source: &SourceVideo) -> Ladder {
        plan(
            source,
            &default_rungs(),
            "veryfast",
            LadderMode::Fixed,
            H264,
        )
    }

    fn sizes(ladder: &Ladder) -> Vec<(u32, u32)> {
        ladder.rungs.iter().map(|r| (r.width, r.height)).collect()
    }

    #[test]
    fn full_hd_gets_every_rung() {
        let ladder = plan_default(&source(1920, 1080));
        let names: Vec<_> = ladder.rungs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["1080p", "720p", "480p", "360p", "240p"]);
        assert_eq!((ladder.rungs[1].width, ladder.rungs[1].height), (1280, 720));
        assert_eq!((ladder.rungs[2].width, ladder.rungs[2].height), (854, 480));
        assert_eq!(ladder.rungs[1].maxrate, 4_200_000);
        assert_eq!(ladder.rungs[1].bufsize, 5_600_000);
        assert!(ladder.rungs.iter().all(|r| r.preset == "veryfast"));
    }

    #[test]
    fn per_title_rungs_keep_a_constant_quality_under_the_fixed_bitrate() {
        let src = SourceVideo {
            bit_rate: 2_000_000,
            ..source(1920, 1080)
        };
        let fixed = plan(&src, &default_rungs(), "veryfast", LadderMode::Fixed, H264);
        let per_title = plan(
            &src,
            &default_rungs(),
            "veryfast",
            LadderMode::PerTitle,
            H264,
        );
        assert_eq!(sizes(&per_title), sizes(&fixed));
        assert_eq!(per_title.frame_rate, fixed.frame_rate);
        for (quality, average) in per_title.rungs.iter().zip(&fixed.rungs) {
            let crf = if quality.height >= 720 { 21 } else { 18 };
            assert_eq!(quality.rate, RateControl::Quality { crf });
            assert_eq!(average.rate, RateControl::Average);
            // The cap is what fixed aims at; its peak is never above fixed's.
            assert_eq!(quality.maxrate, average.bitrate);
            assert!(quality.maxrate < average.maxrate);
            assert_eq!(quality.bufsize, quality.maxrate);
        }
        assert_eq!(
            per_title.rungs[0].maxrate, 2_000_000,
            "capped at the source"
        );
    }

    #[test]
    fn av1_and_hevc_ladders_have_the_h264_geometry_at_fewer_bits_in_both_modes() {
        let src = SourceVideo {
            bit_rate: 2_000_000,
            frame_rate: (50, 1),
            ..source(1920, 1080)
        };
        let others = [
            (Av1, "_av1", AV1_PRESET, AV1_BITRATE_PERCENT),
            (Hevc, "_hevc", HEVC_PRESET, HEVC_BITRATE_PERCENT),
        ];
        for (codec, suffix, codec_preset, percent) in others {
            for mode in LadderMode::ALL {
                let h264 = plan(&src, &default_rungs(), "veryfast", mode, H264);
                let other = plan(&src, &default_rungs(), "faster", mode, codec);
                assert_eq!(sizes(&other), sizes(&h264));
                assert_eq!(other.frame_rate, h264.frame_rate);
                for (o, h) in other.rungs.iter().zip(&h264.rungs) {
                    assert_eq!(o.name, format!("{}{suffix}", h.name));
                    assert_eq!((o.codec, h.codec), (codec, H264));
                    assert_eq!(o.preset, codec_preset, "the transcode's preset is x264's");
                    assert!(o.bitrate <= h.bitrate && o.maxrate <= h.maxrate, "{mode:?}");
                    match (mode, o.rate, h.rate) {
                        (LadderMode::Fixed, RateControl::Average, RateControl::Average) => {}
                        (
                            LadderMode::PerTitle,
                            RateControl::Quality { crf: other_crf },
                            RateControl::Quality { crf: h264_crf },
                        ) => {
                            assert_eq!(other_crf, per_title_crf(codec, o.height));
                            assert_eq!(h264_crf, per_title_crf(H264, h.height));
                            assert_eq!(o.maxrate, o.bitrate);
                        }
                        other => panic!("{mode:?}: {other:?}"),
                    }
                }
            }
            // The source's rate caps the other codec too, at its share of
            // the H.264 rung's ask: 1080p at 50 fps asks 7.5 Mbit/s of
            // H.264, 4.5 of AV1 and 5.25 of HEVC, all over 2.
            let capped = plan(&src, &default_rungs(), "", LadderMode::Fixed, codec);
            assert_eq!(capped.rungs[0].bitrate, 2_000_000);
            assert_eq!(capped.rungs[4].bitrate, 400_000 * 3 / 2 * percent / 100);
        }
    }

    #[test]
    fn never_upscales() {
        let names: Vec<_> = plan_default(&source(1280, 720))
            .rungs
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["720p", "480p", "360p", "240p"]);
    }

    #[test]
    fn tiny_source_gets_one_rung_at_its_even_height() {
        let ladder = plan_default(&source(321, 181));
        assert_eq!(ladder.rungs.len(), 1);
        assert_eq!(ladder.rungs[0].name, "180p");
        assert_eq!((ladder.rungs[0].width, ladder.rungs[0].height), (320, 180));
    }

    #[test]
    fn odd_source_gets_even_rungs() {
        let ladder = plan_default(&source(853, 481));
        assert_eq!(sizes(&ladder), [(852, 480), (638, 360), (426, 240)]);
    }

    #[test]
    fn anamorphic_source_uses_display_aspect() {
        // DVD PAL 16:9: 720x576 with SAR 64:45.
        let ladder = plan_default(&SourceVideo {
            sample_aspect: (64, 45),
            ..source(720, 576)
        });
        let top = &ladder.rungs[0];
        assert_eq!((top.width, top.height), (854, 480));
    }

    #[test]
    fn portrait_and_rotated_sources_are_laddered_by_their_short_side() {
        let portrait = plan_default(&source(1080, 1920));
        assert_eq!(portrait.rungs[0].name, "1080p");
        assert_eq!(sizes(&portrait)[..2], [(1080, 1920), (720, 1280)]);
        let rotated = plan_default(&SourceVideo {
            rotation: 90,
            ..source(1920, 1080)
        });
        assert_eq!(sizes(&rotated), sizes(&portrait));
        let upside_down = plan_default(&SourceVideo {
            rotation: 180,
            ..source(1920, 1080)
        });
        assert_eq!(
            sizes(&upside_down),
            sizes(&plan_default(&source(1920, 1080)))
        );
    }

    #[test]
    fn bitrates_are_capped_at_the_source() {
        let ladder = plan_default(&SourceVideo {
            bit_rate: 1_000_000,
            ..source(1920, 1080)
        });
        let rates: Vec<_> = ladder.rungs.iter().map(|r| r.bitrate).collect();
        assert_eq!(rates, [1_000_000, 1_000_000, 1_000_000, 800_000, 400_000]);
        let starved = plan_default(&SourceVideo {
            bit_rate: 1_000,
            ..source(640, 360)
        });
        assert!(starved.rungs.iter().all(|r| r.bitrate == MIN_BITRATE));
    }

    #[test]
    fn rungs_bitrates_and_presets_are_configurable() {
        let specs = [
            RungSpec {
                height: 720,
                bitrate: 3_000_000,
                preset: Some("faster".into()),
            },
            RungSpec {
                height: 360,
                bitrate: 900_000,
                preset: None,
            },
        ];
        let ladder = plan(
            &source(1920, 1080),
            &specs,
            "medium",
            LadderMode::Fixed,
            H264,
        );
        let got: Vec<_> = ladder
            .rungs
            .iter()
            .map(|r| (r.name.as_str(), r.bitrate, r.preset.as_str()))
            .collect();
        assert_eq!(
            got,
            [("720p", 3_000_000, "faster"), ("360p", 900_000, "medium")]
        );
    }

    #[test]
    fn frame_rate_is_kept_up_to_sixty_and_halved_above() {
        assert_eq!(output_frame_rate((30000, 1001)), (30000, 1001));
        assert_eq!(output_frame_rate((60, 1)), (60, 1));
        assert_eq!(output_frame_rate((120, 1)), (60, 1));
        assert_eq!(output_frame_rate((119_880, 1000)), (60000, 1001));
        assert_eq!(output_frame_rate((240, 1)), (60, 1));
        assert_eq!(output_frame_rate((0, 1)), (25, 1));
        assert_eq!(output_frame_rate((15, 1)), (15, 1));
        assert_eq!(plan_default(&source(640, 360)).frame_rate, (30, 1));
    }

    #[test]
    fn variable_frame_rate_averages_snap_to_a_standard_rate() {
        assert_eq!(output_frame_rate((3_010, 100)), (30, 1));
        assert_eq!(output_frame_rate((2_420, 100)), (24, 1));
        assert_eq!(output_frame_rate((5_994, 100)), (60000, 1001));
        assert_eq!(output_frame_rate((4_000, 100)), (4_000, 100));
    }

    #[test]
    fn high_frame_rate_gets_more_bits() {
        let fast = plan_default(&SourceVideo {
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
            rotation in prop::sample::select(vec![0u32, 90, 180, 270]),
            bit_rate in 0u64..20_000_000,
        ) {
            let src = SourceVideo {
                width,
                height,
                sample_aspect: (sar_num, sar_den),
                frame_rate: (fps_num, fps_den),
                rotation,
                bit_rate,
            };
            let ladder = plan_default(&src);
            prop_assert!(!ladder.rungs.is_empty());
            let aspect = display_aspect(&src);
            let short_side = |w: u32, h: u32| if aspect < 1.0 { w } else { h };
            let (display_w, display_h) = display_size(&src);
            for rung in &ladder.rungs {
                prop_assert!(short_side(rung.width, rung.height) <= short_side(display_w, display_h).max(2));
                prop_assert_eq!(rung.width % 2, 0);
                prop_assert_eq!(rung.height % 2, 0);
                prop_assert!(rung.width >= 2 && rung.height >= 2);
                let short = short_side(rung.width, rung.height);
                // The long side is the short side times the aspect, rounded to even.
                let ratio = if aspect < 1.0 { 1.0 / aspect } else { aspect };
                let expected_long = (f64::from(short) * ratio).max(2.0);
                let got_long = if aspect < 1.0 { rung.height } else { rung.width };
                prop_assert!((f64::from(got_long) - expected_long).abs() <= 1.0 + 1e-9);
                prop_assert!(rung.maxrate > rung.bitrate && rung.bufsize > rung.maxrate);
                if bit_rate > 0 {
                    prop_assert!(rung.bitrate <= bit_rate.max(MIN_BITRATE));
                }
            }
            for pair in ladder.rungs.windows(2) {
                prop_assert!(short_side(pair[0].width, pair[0].height) > short_side(pair[1].width, pair[1].height));
            }
            let (num, den) = ladder.frame_rate;
            let fps = f64::from(num) / f64::from(den);
            prop_assert!((1.0..=MAX_FPS).contains(&fps));
        }
    }
}
