//! Rung quality, measured at run time: how close each encoded rung comes to
//! the picture the top rung was encoded from, so a `per-title` ladder keeps
//! only rungs that look better than the one below them.
//!
//! VMAF is not linked; the measure is the mean squared luma error of each
//! rung, decoded and scaled back (bicubic) to the top rung's size, against
//! the top rung's input frames (reported as PSNR). [`References`] keeps a
//! few of those input frames (their luma only) as the single pass hands
//! them to the encoders: a handful of frames in each of at most
//! [`SAMPLED_GOPS`] GOPs spread over the video.
//! After the pass, [`measure`] decodes just those GOPs of a rung's file
//! (every GOP is closed, so each decodes alone) and compares. The cost is
//! a few hundred decoded frames per rung whatever the length of the video.
//!
//! [`keep`] then walks the ladder up from its lowest rung and keeps a rung
//! only when its error is [`VISIBLE_GAIN`] under the last rung kept and
//! that rung is not already transparent ([`TRANSPARENT_DB`]); both
//! thresholds were calibrated against VMAF with `benches/ladder_quality.sh`
//! and the runs behind `docs/design/per-title-ladder.md`.

use std::collections::BTreeMap;
use std::path::Path;

use ffmpeg_next::{self as ffmpeg, format, frame, media, software::scaling, Packet};

use crate::media::error::MediaError;
use crate::media::pipeline::{is_again, open_decoder};

/// GOPs sampled over a video of known length (one more may fall at the end).
pub const SAMPLED_GOPS: u64 = 6;

/// Frames kept from each sampled GOP, spread over it.
const FRAMES_PER_GOP: u64 = 3;

/// The drop in mean squared luma error (8-bit levels squared) under which
/// a rung does not look better than the rung below it. An absolute
/// difference, not a ratio: noise no rung keeps adds the same error to
/// every rung, and the differences between rungs that VMAF scores 6 points
/// and more apart measured 3.3 and more, with or without such noise.
pub const VISIBLE_GAIN: f64 = 1.5;

/// The PSNR (dB) from which a rung is as good as its source to the eye (a
/// VMAF of 95 and more): no rung above it can look better. 1080p scoring
/// VMAF 94.4 measured 42.7 dB.
pub const TRANSPARENT_DB: f64 = 45.0;

/// What the measure found for one rung.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RungQuality {
    /// The rung's name, e.g. `720p`.
    pub name: String,
    /// Luma PSNR against the top rung's input, in dB ([`psnr_of`] the
    /// measured error).
    pub psnr_db: f64,
    /// Whether the ladder keeps it.
    pub kept: bool,
}

/// The luma of one reference frame.
struct Luma {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

/// Reference frames taken from the top rung's input during the pass.
pub struct References {
    gop: u64,
    /// Every `stride`-th GOP is sampled, from the first.
    stride: u64,
    /// Luma by frame index.
    frames: BTreeMap<u64, Luma>,
}

impl References {
    /// Samples for GOPs of `gop` frames over a video of `expected_frames`
    /// (when known; otherwise the stride doubles as the video goes on).
    pub fn new(gop: u32, expected_frames: Option<f64>) -> Self {
        let gop = u64::from(gop.max(1));
        let stride = expected_frames
            .filter(|frames| *frames > 0.0)
            .map_or(1, |frames| {
                ((frames / gop as f64 / SAMPLED_GOPS as f64).ceil() as u64).max(1)
            });
        Self {
            gop,
            stride,
            frames: BTreeMap::new(),
        }
    }

    /// Whether GOP `gop_number` is sampled.
    fn samples_gop(&self, gop_number: u64) -> bool {
        gop_number.is_multiple_of(self.stride)
    }

    /// Whether frame `index` is one of the references.
    fn samples(&self, index: u64) -> bool {
        let offset = index % self.gop;
        self.samples_gop(index / self.gop)
            && (0..FRAMES_PER_GOP).any(|j| self.gop * (2 * j + 1) / (2 * FRAMES_PER_GOP) == offset)
    }

    /// Keeps the luma of `picture` (frame `index` of the top rung's input)
    /// if it is a reference.
    pub fn offer(&mut self, index: u64, picture: &frame::Video) {
        if !self.samples(index) {
            return;
        }
        let (width, height) = (picture.width() as usize, picture.height() as usize);
        let stride = picture.stride(0);
        let data = picture.data(0);
        let mut pixels = Vec::with_capacity(width * height);
        for row in data.chunks(stride).take(height) {
            pixels.extend_from_slice(&row[..width]);
        }
        self.frames.insert(
            index,
            Luma {
                width,
                height,
                pixels,
            },
        );
        // Length unknown: keep the samples bounded by sampling half as often.
        while self.sampled_gops() > 2 * SAMPLED_GOPS {
            self.stride *= 2;
            let (gop, stride) = (self.gop, self.stride);
            self.frames
                .retain(|index, _| (index / gop).is_multiple_of(stride));
        }
    }

    fn sampled_gops(&self) -> u64 {
        let mut gops: Vec<u64> = self.frames.keys().map(|index| index / self.gop).collect();
        gops.dedup();
        gops.len() as u64
    }
}

/// Mean squared luma error of the rendition in `file`, decoded only in the
/// sampled GOPs and scaled to the references' size, against the
/// references; `None` when no reference frame was decoded (nothing to
/// compare).
pub fn measure(file: &Path, references: &References) -> Result<Option<f64>, MediaError> {
    let Some(last) = references.frames.keys().next_back().copied() else {
        return Ok(None);
    };
    let last_gop = last / references.gop;
    let mut input = format::input(&file)
        .map_err(|e| MediaError::internal(&format!("opening {}", file.display()), e))?;
    let index = input
        .streams()
        .best(media::Type::Video)
        .ok_or_else(|| MediaError::Internal(format!("{} has no video", file.display())))?
        .index();
    let mut decoder = open_decoder(&input, index)?
        .video()
        .map_err(|e| MediaError::decode("opening a rung's decoder", e))?;
    let mut reading = Reading {
        references,
        gop: None,
        decoded_in_gop: 0,
        error: SquaredError::default(),
    };
    let mut packet = Packet::empty();
    loop {
        let more = match packet.read(&mut input) {
            Ok(()) => true,
            Err(ffmpeg::Error::Eof) => false,
            Err(e) => return Err(MediaError::decode("reading a rung", e)),
        };
        if more && packet.stream() != index {
            continue;
        }
        if !more || packet.is_key() {
            if reading.in_sampled_gop() {
                // The sampled GOP is complete: drain it, then start afresh.
                decoder
                    .send_eof()
                    .map_err(|e| MediaError::decode("flushing a rung's decoder", e))?;
                reading.drain(&mut decoder)?;
                decoder.flush();
            }
            reading.gop = Some(reading.gop.map_or(0, |g| g + 1));
            reading.decoded_in_gop = 0;
            if !more || reading.gop > Some(last_gop) {
                break;
            }
        }
        if reading.in_sampled_gop() {
            decoder
                .send_packet(&packet)
                .map_err(|e| MediaError::decode("decoding a rung", e))?;
            reading.drain(&mut decoder)?;
        }
    }
    Ok(reading.error.mean())
}

/// Where [`measure`] is in a rung's file.
struct Reading<'a> {
    references: &'a References,
    /// The GOP being read: packets come in decode order, each GOP from its
    /// keyframe; none before the first.
    gop: Option<u64>,
    /// Frames of it decoded so far, in presentation order.
    decoded_in_gop: u64,
    error: SquaredError,
}

impl Reading<'_> {
    fn in_sampled_gop(&self) -> bool {
        self.gop.is_some_and(|gop| self.references.samples_gop(gop))
    }

    /// Compares every frame the decoder returns that has a reference.
    fn drain(&mut self, decoder: &mut ffmpeg::decoder::Video) -> Result<(), MediaError> {
        let mut picture = frame::Video::empty();
        loop {
            match decoder.receive_frame(&mut picture) {
                Ok(()) => {}
                Err(e) if is_again(&e) => return Ok(()),
                Err(e) => return Err(MediaError::decode("decoding a rung", e)),
            }
            let gop = self.gop.unwrap_or(0);
            let index = gop * self.references.gop + self.decoded_in_gop;
            self.decoded_in_gop += 1;
            if let Some(reference) = self.references.frames.get(&index) {
                self.error.add(&picture, reference)?;
            }
        }
    }
}

/// Summed squared luma error over the frames compared.
#[derive(Default)]
struct SquaredError {
    sum: u64,
    pixels: u64,
    scaler: Option<(scaling::Context, (u32, u32))>,
}

impl SquaredError {
    /// Adds `picture` (a decoded rung frame) scaled to `reference`'s size.
    fn add(&mut self, picture: &frame::Video, reference: &Luma) -> Result<(), MediaError> {
        let size = (reference.width as u32, reference.height as u32);
        let scaled;
        let compared = if (picture.width(), picture.height()) == size {
            picture
        } else {
            let scaler = match &mut self.scaler {
                Some((scaler, for_size)) if *for_size == size => scaler,
                slot => {
                    let scaler = scaling::Context::get(
                        picture.format(),
                        picture.width(),
                        picture.height(),
                        format::Pixel::YUV420P,
                        size.0,
                        size.1,
                        scaling::Flags::BICUBIC,
                    )
                    .map_err(|e| MediaError::internal("creating the quality scaler", e))?;
                    &mut slot.insert((scaler, size)).0
                }
            };
            let mut out = frame::Video::new(format::Pixel::YUV420P, size.0, size.1);
            scaler
                .run(picture, &mut out)
                .map_err(|e| MediaError::internal("scaling a rung frame", e))?;
            scaled = out;
            &scaled
        };
        let stride = compared.stride(0);
        let rows = compared.data(0).chunks(stride);
        for (row, expected) in rows.zip(reference.pixels.chunks(reference.width)) {
            for (&got, &want) in row.iter().zip(expected) {
                self.sum += u64::from(got.abs_diff(want)).pow(2);
            }
        }
        self.pixels += (reference.width * reference.height) as u64;
        Ok(())
    }

    /// The mean squared error over every pixel compared.
    fn mean(&self) -> Option<f64> {
        (self.pixels > 0).then(|| self.sum as f64 / self.pixels as f64)
    }
}

/// PSNR in dB of a mean squared error on 8-bit samples (capped at 100 dB
/// for a perfect match).
pub fn psnr_of(mse: f64) -> f64 {
    if mse <= 0.0 {
        100.0
    } else {
        (10.0 * (255.0 * 255.0 / mse).log10()).min(100.0)
    }
}

/// Which rungs (mean squared errors, highest rung first) a ladder keeps:
/// the lowest, and above it each rung whose error is [`VISIBLE_GAIN`] under
/// the last one kept, while that one is under [`TRANSPARENT_DB`]. A rung
/// without a measure is kept.
pub fn keep(errors: &[Option<f64>]) -> Vec<bool> {
    let mut kept = vec![true; errors.len()];
    let mut floor: Option<f64> = None;
    for (position, error) in errors.iter().enumerate().rev() {
        let Some(error) = *error else { continue };
        match floor {
            Some(below) if psnr_of(below) >= TRANSPARENT_DB || error > below - VISIBLE_GAIN => {
                kept[position] = false;
            }
            _ => floor = Some(error),
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ladder whose rungs' errors fall by `gains` (in thresholds) from
    /// the rung below, from an error of 60 at the lowest.
    fn ladder(gains: &[f64]) -> Vec<Option<f64>> {
        let mut errors = vec![Some(60.0)];
        for gain in gains.iter().rev() {
            let below = errors[0].unwrap();
            errors.insert(0, Some(below - gain * VISIBLE_GAIN));
        }
        errors
    }

    #[test]
    fn a_rung_no_better_than_the_one_below_is_dropped() {
        // A starved top rung: it costs more than the one below for nothing.
        assert_eq!(
            keep(&ladder(&[0.3, 2.0, 3.0, 4.0])),
            [false, true, true, true, true]
        );
        // Or for worse.
        assert_eq!(keep(&ladder(&[-0.5, 2.0])), [false, true, true]);
        // Compared with the last rung kept, not the next one: two small
        // steps make one visible step.
        assert_eq!(keep(&ladder(&[0.6, 0.6, 3.0])), [true, false, true, true]);
        assert_eq!(keep(&ladder(&[5.0, 3.0, 2.0, 1.5])), [true; 5]);
    }

    #[test]
    fn noise_every_rung_loses_alike_does_not_hide_a_visible_step() {
        // The benchmark's noisy source: every rung near 30 dB, yet VMAF
        // scores each step 6 points and more.
        let errors = [48.6, 58.9, 62.5, 65.8, 72.1].map(Some);
        assert_eq!(keep(&errors), [true; 5]);
    }

    #[test]
    fn unmeasured_rungs_and_single_rungs_are_kept() {
        let mut measured = ladder(&[3.0, 0.1]);
        measured[0] = None;
        assert_eq!(keep(&measured), [true, false, true]);
        measured[1] = None;
        assert_eq!(keep(&measured), [true, true, true]);
        assert_eq!(keep(&[Some(20.0)]), [true]);
        assert_eq!(keep(&[]), Vec::<bool>::new());
    }

    #[test]
    fn nothing_looks_better_than_a_transparent_rung() {
        // 45 dB is an error of 2.06: a rung at 1.0 is transparent.
        let errors = [0.1, 1.0, 5.0, 20.0].map(Some);
        assert_eq!(keep(&errors), [false, true, true, true]);
        let errors = [0.1, 0.5, 1.0, 20.0].map(Some);
        assert_eq!(keep(&errors), [false, false, true, true]);
    }

    #[test]
    fn references_spread_over_a_known_length() {
        // 60 s at 30 fps in 2 s GOPs: 30 GOPs, every 5th sampled.
        let refs = References::new(60, Some(1800.0));
        assert_eq!(refs.stride, 5);
        let sampled: Vec<u64> = (0..1800).filter(|&i| refs.samples(i)).collect();
        assert_eq!(&sampled[..4], [10, 30, 50, 310]);
        assert_eq!(sampled.len() as u64, SAMPLED_GOPS * FRAMES_PER_GOP);
        // Short videos sample every GOP.
        assert_eq!(References::new(60, Some(90.0)).stride, 1);
        assert_eq!(References::new(60, None).stride, 1);
    }

    #[test]
    fn references_of_an_unknown_length_stay_bounded() {
        let mut refs = References::new(2, None);
        let picture = frame::Video::new(format::Pixel::YUV420P, 16, 16);
        for index in 0..10_000 {
            refs.offer(index, &picture);
        }
        assert!(refs.sampled_gops() <= 2 * SAMPLED_GOPS);
        assert!(refs.sampled_gops() > SAMPLED_GOPS / 2);
        assert!(refs.frames.keys().all(|i| refs.samples(*i)));
    }

    #[test]
    fn psnr_of_known_errors() {
        assert!((psnr_of(1.0) - 48.13).abs() < 0.01);
        assert_eq!(psnr_of(0.0), 100.0);
    }
}
