//! Player assets made from frames the pipeline already decoded and scaled:
//! the poster (`poster.jpg`, a frame about 10 % in, from the top rung) and the
//! thumbnail storyboard (`storyboard.jpg`, a sprite grid of small thumbnails
//! taken every few seconds from the smallest rung, plus `storyboard.vtt`
//! whose WebVTT cues point into it with `#xywh=` media fragments).
//!
//! Pictures are converted to full-range YUV (what JPEG means) with swscale
//! and encoded with FFmpeg's MJPEG encoder.

use std::fmt::Write as _;
use std::path::Path;

use ffmpeg_next::software::scaling;
use ffmpeg_next::{self as ffmpeg, codec, color, encoder, format, frame, Rational};

use crate::media::error::MediaError;

pub use goflix_shared::layout::{POSTER, STORYBOARD_CUES, STORYBOARD_IMAGE};

/// Where in the video the poster is taken, as a fraction of its length.
const POSTER_POSITION: f64 = 0.1;
/// Thumbnails fit in a square of this many pixels.
const THUMBNAIL_BOX: u32 = 160;
/// Thumbnails per sprite row.
const COLUMNS: usize = 10;
/// Most thumbnails kept; beyond it every other one is dropped and the interval doubles.
const MAX_THUMBNAILS: usize = 400;
/// MJPEG quantiser scale (2 = best … 31 = worst).
const JPEG_QUALITY: i32 = 4;

/// Keeps the frame the poster is made from.
pub struct Poster {
    target_frame: u64,
    converter: Option<Converter>,
    picture: Option<frame::Video>,
}

impl Poster {
    /// A poster taken at frame `POSTER_POSITION × expected_frames`, or from the
    /// first frame when the length is unknown.
    pub fn new(expected_frames: Option<f64>) -> Self {
        Self {
            target_frame: expected_frames.map_or(0, |frames| (frames * POSTER_POSITION) as u64),
            converter: None,
            picture: None,
        }
    }

    /// Offers output frame number `index`. The first frame is kept as a
    /// fallback (the source may end early) until the target frame comes.
    pub fn offer(&mut self, index: u64, picture: &frame::Video) -> Result<(), MediaError> {
        if index != 0 && index != self.target_frame {
            return Ok(());
        }
        let converter = match &mut self.converter {
            Some(converter) => converter,
            None => {
                self.converter
                    .insert(Converter::new(picture, picture.width(), picture.height())?)
            }
        };
        self.picture = Some(converter.run(picture)?);
        Ok(())
    }

    /// Writes `poster.jpg` into `out_dir`; false if no frame was offered.
    pub fn write(self, out_dir: &Path) -> Result<bool, MediaError> {
        match self.picture {
            Some(mut picture) => {
                encode_jpeg(&mut picture, &out_dir.join(POSTER))?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// Collects thumbnails for the storyboard.
pub struct Storyboard {
    interval_frames: u64,
    frame_rate: (u32, u32),
    width: u32,
    height: u32,
    converter: Option<Converter>,
    thumbnails: Vec<frame::Video>,
    frames: u64,
}

impl Storyboard {
    /// A storyboard with a thumbnail every `interval_s` seconds (at least one
    /// frame) of pictures `source_width`×`source_height` at `frame_rate`.
    pub fn new(
        interval_s: f64,
        frame_rate: (u32, u32),
        source_width: u32,
        source_height: u32,
    ) -> Self {
        let fps = f64::from(frame_rate.0) / f64::from(frame_rate.1.max(1));
        let (width, height) = fit(source_width, source_height, THUMBNAIL_BOX);
        Self {
            interval_frames: ((interval_s * fps).round() as u64).max(1),
            frame_rate,
            width,
            height,
            converter: None,
            thumbnails: Vec::new(),
            frames: 0,
        }
    }

    /// Offers output frame number `index` (frames come in order).
    pub fn offer(&mut self, index: u64, picture: &frame::Video) -> Result<(), MediaError> {
        self.frames = index + 1;
        if !index.is_multiple_of(self.interval_frames) {
            return Ok(());
        }
        let converter = match &mut self.converter {
            Some(converter) => converter,
            None => self
                .converter
                .insert(Converter::new(picture, self.width, self.height)?),
        };
        self.thumbnails.push(converter.run(picture)?);
        if self.thumbnails.len() >= MAX_THUMBNAILS {
            let mut position = 0;
            self.thumbnails.retain(|_| {
                position += 1;
                position % 2 == 1
            });
            self.interval_frames *= 2;
        }
        Ok(())
    }

    /// Writes the sprite and the cues into `out_dir`; their names, or none
    /// when no frame was offered.
    pub fn write(self, out_dir: &Path) -> Result<Vec<String>, MediaError> {
        if self.thumbnails.is_empty() {
            return Ok(Vec::new());
        }
        let columns = self.thumbnails.len().min(COLUMNS);
        let rows = self.thumbnails.len().div_ceil(COLUMNS);
        let mut sprite = frame::Video::new(
            format::Pixel::YUV420P,
            self.width * columns as u32,
            self.height * rows as u32,
        );
        fill_black(&mut sprite);
        for (i, thumbnail) in self.thumbnails.iter().enumerate() {
            let (x, y) = self.position(i);
            blit(thumbnail, &mut sprite, x, y);
        }
        encode_jpeg(&mut sprite, &out_dir.join(STORYBOARD_IMAGE))?;
        std::fs::write(out_dir.join(STORYBOARD_CUES), self.cues())
            .map_err(|e| MediaError::internal(&format!("writing {STORYBOARD_CUES}"), e))?;
        Ok(vec![
            STORYBOARD_IMAGE.to_owned(),
            STORYBOARD_CUES.to_owned(),
        ])
    }

    /// Top-left corner of thumbnail `i` in the sprite.
    fn position(&self, i: usize) -> (u32, u32) {
        (
            (i % COLUMNS) as u32 * self.width,
            (i / COLUMNS) as u32 * self.height,
        )
    }

    /// The WebVTT cues: thumbnail `i` covers its interval, the last one up to the end.
    fn cues(&self) -> String {
        let seconds = |frames: u64| {
            frames as f64 * f64::from(self.frame_rate.1) / f64::from(self.frame_rate.0.max(1))
        };
        let mut vtt = String::from("WEBVTT\n");
        for i in 0..self.thumbnails.len() {
            let start = i as u64 * self.interval_frames;
            let end = (start + self.interval_frames).min(self.frames.max(start + 1));
            let (x, y) = self.position(i);
            let _ = write!(
                vtt,
                "\n{} --> {}\n{STORYBOARD_IMAGE}#xywh={x},{y},{},{}\n",
                timestamp(seconds(start)),
                timestamp(seconds(end)),
                self.width,
                self.height,
            );
        }
        vtt
    }
}

/// `hh:mm:ss.mmm`.
fn timestamp(seconds: f64) -> String {
    let millis = (seconds * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        millis / 3_600_000,
        millis / 60_000 % 60,
        millis / 1000 % 60,
        millis % 1000
    )
}

/// The largest even size with the same aspect that fits in `side`×`side`.
fn fit(width: u32, height: u32, side: u32) -> (u32, u32) {
    let (width, height) = (width.max(1), height.max(1));
    let even = |v: f64| ((v / 2.0).round() as u32 * 2).max(2);
    if width >= height {
        (
            side,
            even(f64::from(side) * f64::from(height) / f64::from(width)),
        )
    } else {
        (
            even(f64::from(side) * f64::from(width) / f64::from(height)),
            side,
        )
    }
}

/// swscale from the pipeline's limited-range `yuv420p` to full-range `yuv420p`.
struct Converter {
    context: scaling::Context,
    width: u32,
    height: u32,
}

impl Converter {
    fn new(like: &frame::Video, width: u32, height: u32) -> Result<Self, MediaError> {
        let mut context = scaling::Context::get(
            like.format(),
            like.width(),
            like.height(),
            format::Pixel::YUV420P,
            width,
            height,
            scaling::Flags::BICUBIC,
        )
        .map_err(|e| MediaError::internal("creating the thumbnail scaler", e))?;
        // SAFETY: the context is valid; the coefficient tables are static.
        unsafe {
            let table = ffmpeg::ffi::sws_getCoefficients(ffmpeg::ffi::SWS_CS_ITU709);
            ffmpeg::ffi::sws_setColorspaceDetails(
                context.as_mut_ptr(),
                table,
                0,
                table,
                1,
                0,
                1 << 16,
                1 << 16,
            );
        }
        Ok(Self {
            context,
            width,
            height,
        })
    }

    fn run(&mut self, picture: &frame::Video) -> Result<frame::Video, MediaError> {
        let mut out = frame::Video::new(format::Pixel::YUV420P, self.width, self.height);
        self.context
            .run(picture, &mut out)
            .map_err(|e| MediaError::internal("scaling a thumbnail", e))?;
        out.set_color_range(color::Range::JPEG);
        Ok(out)
    }
}

/// Full-range black: Y 0, chroma 128.
fn fill_black(picture: &mut frame::Video) {
    for plane in 0..3 {
        let value = if plane == 0 { 0 } else { 128 };
        picture.data_mut(plane).fill(value);
    }
    picture.set_color_range(color::Range::JPEG);
}

/// Copies `src` into `dst` with its top-left corner at (`x`, `y`), both even.
fn blit(src: &frame::Video, dst: &mut frame::Video, x: u32, y: u32) {
    for plane in 0..3 {
        let shift = u32::from(plane > 0);
        let (x, y) = ((x >> shift) as usize, (y >> shift) as usize);
        let width = src.plane_width(plane) as usize;
        let (src_stride, dst_stride) = (src.stride(plane), dst.stride(plane));
        for row in 0..src.plane_height(plane) as usize {
            let from = &src.data(plane)[row * src_stride..][..width];
            dst.data_mut(plane)[(y + row) * dst_stride + x..][..width].copy_from_slice(from);
        }
    }
}

/// Encodes one full-range `yuv420p` picture as a baseline JPEG file.
fn encode_jpeg(picture: &mut frame::Video, path: &Path) -> Result<(), MediaError> {
    let codec = encoder::find(codec::Id::MJPEG)
        .ok_or_else(|| MediaError::Internal("FFmpeg was built without its MJPEG encoder".into()))?;
    let mut ctx = codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(|e| MediaError::encode("allocating the JPEG encoder", e))?;
    ctx.set_width(picture.width());
    ctx.set_height(picture.height());
    ctx.set_format(format::Pixel::YUV420P);
    ctx.set_color_range(color::Range::JPEG);
    ctx.set_time_base(Rational::new(1, 1));
    ctx.set_flags(codec::Flags::QSCALE);
    let lambda = JPEG_QUALITY * ffmpeg::ffi::FF_QP2LAMBDA;
    ctx.set_global_quality(lambda);
    let mut encoder = ctx
        .open_as(codec)
        .map_err(|e| MediaError::encode("opening the JPEG encoder", e))?;
    picture.set_pts(Some(0));
    // SAFETY: `picture` owns its AVFrame; `quality` is a plain field the
    // encoder reads as the quantiser in QSCALE mode.
    unsafe { (*picture.as_mut_ptr()).quality = lambda };
    encoder
        .send_frame(picture)
        .and_then(|()| encoder.send_eof())
        .map_err(|e| MediaError::encode("encoding a JPEG", e))?;
    let mut packet = ffmpeg::Packet::empty();
    let mut bytes = Vec::new();
    loop {
        match encoder.receive_packet(&mut packet) {
            Ok(()) => bytes.extend_from_slice(packet.data().unwrap_or_default()),
            Err(ffmpeg::Error::Eof) => break,
            Err(e) => return Err(MediaError::encode("encoding a JPEG", e)),
        }
    }
    std::fs::write(path, bytes)
        .map_err(|e| MediaError::internal(&format!("writing {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnails_fit_the_box_with_even_sides() {
        assert_eq!(fit(1920, 1080, 160), (160, 90));
        assert_eq!(fit(1080, 1920, 160), (90, 160));
        assert_eq!(fit(853, 481, 160), (160, 90));
        assert_eq!(fit(4000, 10, 160), (160, 2));
    }

    #[test]
    fn timestamps_are_webvtt() {
        assert_eq!(timestamp(0.0), "00:00:00.000");
        assert_eq!(timestamp(3723.4567), "01:02:03.457");
    }
}
