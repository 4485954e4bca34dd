//! B-mode frames from DICOM files (dicom-object + dicom-pixeldata, pure Rust codecs): single and
//! multi-frame, MONOCHROME1/2, RGB and YBR converted to 8-bit gray.

use std::io::Read;
use std::path::Path;

use dicom_dictionary_std::tags;
use dicom_object::open_file;
use dicom_pixeldata::{
    PhotometricInterpretation, PixelDecoder, PixelRepresentation, PlanarConfiguration,
};

use super::DataError;

/// The frames of one DICOM file, row-major 8-bit gray.
#[derive(Debug, Clone, PartialEq)]
pub struct DicomFrames {
    /// The PatientID attribute, when present and not blank.
    pub patient_id: Option<String>,
    pub width: u32,
    pub height: u32,
    pub frames: Vec<Vec<u8>>,
}

/// Whether a file looks like DICOM: a `.dcm` name, or the `DICM` magic after the 128-byte preamble.
pub fn is_dicom(path: &Path) -> bool {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("dcm") || e.eq_ignore_ascii_case("dicom"))
    {
        return true;
    }
    let mut b = [0u8; 132];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .is_ok()
        && &b[128..132] == b"DICM"
}

/// An error message from a library cut to a readable length.
fn short(s: &str) -> String {
    if s.chars().count() <= 300 {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(300).collect::<String>())
    }
}

fn gray(r: u8, g: u8, b: u8) -> u8 {
    (0.299 * r as f64 + 0.587 * g as f64 + 0.114 * b as f64)
        .round()
        .clamp(0.0, 255.0) as u8
}

/// Largest DICOM file read.
pub const MAX_DICOM_FILE_BYTES: u64 = 2 << 30;
/// Most bytes of decoded pixels (rows x columns x frames x samples x bytes per sample) read.
pub const MAX_DICOM_PIXEL_BYTES: u64 = 1 << 30;
/// How much larger than the file its encapsulated (compressed) pixels may decode to.
const MAX_COMPRESSION_RATIO: u64 = 4096;
/// Most sequences and items open at once (real files nest a few levels).
const MAX_DEPTH: usize = 64;
/// The length of a value whose end is marked by a delimiter.
const UNDEFINED: u32 = 0xFFFF_FFFF;

/// Whether an explicit VR has a 2-byte length field. Every other VR, an unknown one included (as
/// dicom-object reads it), has 2 reserved bytes and a 4-byte length.
fn short_vr(vr: [u8; 2]) -> bool {
    matches!(
        &vr,
        b"AE"
            | b"AS"
            | b"AT"
            | b"CS"
            | b"DA"
            | b"DS"
            | b"DT"
            | b"FL"
            | b"FD"
            | b"IS"
            | b"LO"
            | b"LT"
            | b"PN"
            | b"SH"
            | b"SL"
            | b"SS"
            | b"ST"
            | b"TM"
            | b"UI"
            | b"UL"
            | b"US"
    )
}

/// Bytes of one value of a binary VR (1 for text and bytes).
fn value_size(vr: dicom_core::VR) -> u64 {
    use dicom_core::VR;
    match vr {
        VR::US | VR::SS | VR::OW => 2,
        VR::UL | VR::SL | VR::FL | VR::AT | VR::OF | VR::OL => 4,
        VR::FD | VR::OD | VR::SV | VR::UV | VR::OV => 8,
        _ => 1,
    }
}

/// A reader that counts the bytes it gave.
struct Counting<R> {
    r: R,
    pos: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.r.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read> Counting<R> {
    /// Fills `buf`, or `None` at the end of the stream (or of a short read).
    fn exact<const N: usize>(&mut self) -> Option<[u8; N]> {
        let mut b = [0u8; N];
        self.read_exact(&mut b).ok().map(|_| b)
    }

    /// Skips `n` bytes; false when the stream ends first.
    fn skip(&mut self, n: u64) -> bool {
        std::io::copy(&mut (&mut *self).take(n), &mut std::io::sink()).is_ok_and(|c| c == n)
    }
}

/// Walks a DICOM file's elements before dicom-object parses it, checking that every length it
/// declares fits in the bytes that follow: dicom-object reserves a value's declared length before
/// reading it, so a 426-byte file claiming a 4 GB PixelData would otherwise cost 4 GB. The walk
/// streams (nothing is kept) and only refuses a length that runs past the end of the file; anything
/// else it cannot follow is left to dicom-object to judge.
fn check_lengths(path: &Path, file_len: u64) -> Result<(), String> {
    use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
    use dicom_core::{Tag, VR};
    use dicom_dictionary_std::StandardDataDictionary;

    let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut r = Counting {
        r: std::io::BufReader::new(file),
        pos: 0,
    };
    // The preamble is optional: "DICM" at 128 or at 0.
    let Some(head) = r.exact::<132>() else {
        return Ok(());
    };
    let start = if &head[128..132] == b"DICM" {
        132
    } else if &head[..4] == b"DICM" {
        4
    } else {
        return Ok(());
    };
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut r = Counting {
        r: std::io::BufReader::new(file),
        pos: 0,
    };
    if !r.skip(start) {
        return Ok(());
    }
    let too_long = |what: &str, len: u64, at: u64| {
        format!(
            "{what} at byte {at} claims {len} bytes, but the file has only {} after it",
            file_len.saturating_sub(at)
        )
    };
    // The file meta group: explicit VR little endian, with the transfer syntax.
    let mut ts = String::new();
    let first = loop {
        let Some(t) = r.exact::<4>() else {
            return Ok(());
        };
        let group = u16::from_le_bytes([t[0], t[1]]);
        if group != 0x0002 {
            break t;
        }
        let Some(vr) = r.exact::<2>() else {
            return Ok(());
        };
        if VR::from_binary(vr).is_none() {
            return Err(format!(
                "a file meta element at byte {} has an unknown value representation",
                r.pos - 6
            ));
        }
        let len = if !short_vr(vr) {
            match r.exact::<6>() {
                Some(b) => u32::from_le_bytes([b[2], b[3], b[4], b[5]]),
                None => return Ok(()),
            }
        } else {
            match r.exact::<2>() {
                Some(b) => u16::from_le_bytes(b) as u32,
                None => return Ok(()),
            }
        } as u64;
        let at = r.pos;
        if len > file_len.saturating_sub(at) {
            return Err(too_long("a file meta element", len, at));
        }
        let elem = u16::from_le_bytes([t[2], t[3]]);
        if elem == 0x0010 && len <= 64 {
            let mut v = vec![0u8; len as usize];
            if r.read_exact(&mut v).is_err() {
                return Ok(());
            }
            ts = String::from_utf8_lossy(&v)
                .trim_matches(|c: char| c == '\0' || c.is_whitespace())
                .to_string();
        } else if !r.skip(len) {
            return Err(too_long("a file meta element", len, at));
        }
    };
    let implicit = ts == "1.2.840.10008.1.2";
    let big = ts == "1.2.840.10008.1.2.2";
    if ts == "1.2.840.10008.1.2.1.99" {
        // Deflated: dicom-object inflates the rest; its lengths are checked as they stream by.
        let rest = flate2::read::DeflateDecoder::new(std::io::Cursor::new(first).chain(r.r));
        let mut r = Counting { r: rest, pos: 0 };
        return walk(&mut r, None, false, false, None, &too_long);
    }
    // `r.pos` counts from the start of the file.
    return walk(
        &mut r,
        Some((file_len, 0)),
        implicit,
        big,
        Some(first),
        &too_long,
    );

    /// The data set proper. `bound`: the file's length and where the walk starts in it, when known.
    fn walk<R: Read>(
        r: &mut Counting<R>,
        bound: Option<(u64, u64)>,
        implicit: bool,
        big: bool,
        mut pending: Option<[u8; 4]>,
        too_long: &dyn Fn(&str, u64, u64) -> String,
    ) -> Result<(), String> {
        let u16_of = |b: [u8; 2]| {
            if big {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        let u32_of = |b: [u8; 4]| {
            if big {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let left = |r: &Counting<R>| match bound {
            Some((len, start)) => len.saturating_sub(start + r.pos),
            None => u64::MAX,
        };
        let at = |r: &Counting<R>| bound.map_or(r.pos, |(_, start)| start + r.pos);
        // Inside an encapsulated PixelData: items are compressed fragments, skipped whole.
        let mut fragments = false;
        // Inside an undefined-length UN of an explicit-VR file, which is read as an implicit-VR
        // sequence: how many sequences deep, until its own delimiter.
        let mut in_un: Option<u32> = None;
        // Open sequences and items, innermost last: where each ends, or None until its delimiter.
        // dicom-object builds nested sequences recursively, so deep nesting is refused here.
        let mut open: Vec<Option<u64>> = Vec::new();
        let deep = |r: &Counting<R>| {
            format!(
                "sequences nested more than {MAX_DEPTH} levels deep at byte {}",
                at(r)
            )
        };
        loop {
            while let Some(&Some(end)) = open.last() {
                if r.pos < end {
                    break;
                }
                open.pop();
            }
            let t = match pending.take() {
                Some(t) => t,
                None => match r.exact::<4>() {
                    Some(t) => t,
                    None => return Ok(()),
                },
            };
            let tag = Tag(u16_of([t[0], t[1]]), u16_of([t[2], t[3]]));
            if tag.0 == 0xFFFE {
                let Some(l) = r.exact::<4>() else {
                    return Ok(());
                };
                let len = u32_of(l);
                match tag.1 {
                    0xE000 if len != UNDEFINED && fragments => {
                        let here = at(r);
                        if len as u64 > left(r) || !r.skip(len as u64) {
                            return Err(too_long("a pixel data fragment", len as u64, here));
                        }
                    }
                    0xE000 if len != UNDEFINED && len as u64 > left(r) => {
                        return Err(too_long("an item", len as u64, at(r)));
                    }
                    0xE000 if !fragments => {
                        open.push((len != UNDEFINED).then(|| r.pos + len as u64));
                        if open.len() > MAX_DEPTH {
                            return Err(deep(r));
                        }
                    }
                    // Delimiters have no value: dicom-object would reserve a length given to one.
                    0xE00D | 0xE0DD if len != 0 => {
                        return Err(format!(
                            "a delimiter at byte {} claims {len} bytes (it has none)",
                            at(r) - 8
                        ));
                    }
                    0xE000 => {}
                    0xE00D => {
                        if matches!(open.last(), Some(None)) {
                            open.pop();
                        }
                    }
                    0xE0DD => {
                        if fragments {
                            fragments = false;
                        } else if matches!(open.last(), Some(None)) {
                            open.pop();
                        }
                        in_un = match in_un {
                            Some(0) | None => None,
                            Some(d) => Some(d - 1),
                        };
                    }
                    // Any other (FFFE,xxxx) is read as a value of its length.
                    _ => {
                        let here = at(r);
                        if len == UNDEFINED {
                            return Err(format!("an element at byte {here} of undefined length"));
                        }
                        if len as u64 > left(r) || !r.skip(len as u64) {
                            return Err(too_long("an element", len as u64, here));
                        }
                    }
                }
                continue;
            }
            let (vr, len) = if implicit || in_un.is_some() {
                let Some(l) = r.exact::<4>() else {
                    return Ok(());
                };
                let vr = StandardDataDictionary
                    .by_tag(tag)
                    .map(|e| e.vr().relaxed())
                    .unwrap_or(VR::UN);
                (vr, u32_of(l))
            } else {
                let Some(v) = r.exact::<2>() else {
                    return Ok(());
                };
                // dicom-object reads an unknown VR as UN, and from there its reading and this
                // walk may part ways: no valid file has one.
                let Some(vr) = VR::from_binary(v) else {
                    return Err(format!(
                        "an element at byte {} has an unknown value representation",
                        at(r) - 6
                    ));
                };
                let len = if !short_vr(v) {
                    match r.exact::<6>() {
                        Some(b) => u32_of([b[2], b[3], b[4], b[5]]),
                        None => return Ok(()),
                    }
                } else {
                    match r.exact::<2>() {
                        Some(b) => u16_of(b) as u32,
                        None => return Ok(()),
                    }
                };
                (vr, len)
            };
            // Binary values are whole numbers of their size: dicom-object reads them by count, so
            // a US of 33 bytes would leave it one byte off this walk.
            if len != UNDEFINED && !(len as u64).is_multiple_of(value_size(vr)) {
                return Err(format!(
                    "an element at byte {} is a {vr:?} value of {len} bytes, not a whole number of values",
                    at(r)
                ));
            }
            if len == UNDEFINED {
                match in_un {
                    Some(d) => in_un = Some(d + 1),
                    None if !implicit && vr == VR::UN => in_un = Some(0),
                    None => {}
                }
                // A sequence (its items follow) or encapsulated pixel data (fragments follow).
                fragments = tag == dicom_dictionary_std::tags::PIXEL_DATA;
                if !fragments {
                    open.push(None);
                    if open.len() > MAX_DEPTH {
                        return Err(deep(r));
                    }
                }
                continue;
            }
            let here = at(r);
            if len as u64 > left(r) {
                return Err(too_long("an element", len as u64, here));
            }
            // Sequences of defined length are walked into; other values are skipped.
            if vr == VR::SQ {
                open.push(Some(r.pos + len as u64));
                if open.len() > MAX_DEPTH {
                    return Err(deep(r));
                }
            } else if !r.skip(len as u64) {
                return Err(too_long("an element", len as u64, here));
            }
        }
    }
}

/// Reads every frame of a DICOM file as 8-bit gray. Every length the file declares is checked
/// against its size, and the pixels it claims against its size and [`MAX_DICOM_PIXEL_BYTES`],
/// before anything is allocated for them.
pub fn read_dicom(path: &Path) -> Result<DicomFrames, DataError> {
    let bad = |message: String| DataError::Dicom {
        path: path.to_path_buf(),
        message,
    };
    let file_len = std::fs::metadata(path)
        .map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    if file_len > MAX_DICOM_FILE_BYTES {
        return Err(bad(format!(
            "the file is {file_len} bytes, more than the {MAX_DICOM_FILE_BYTES} vqtex reads"
        )));
    }
    check_lengths(path, file_len).map_err(bad)?;
    let obj = open_file(path).map_err(|e| bad(short(&e.to_string())))?;
    let int = |tag, name: &str, default: Option<u64>| -> Result<u64, DataError> {
        match obj.element(tag) {
            Ok(e) => e
                .to_int::<u64>()
                .map_err(|_| bad(format!("{name} is not a whole number >= 0"))),
            Err(_) => default.ok_or_else(|| bad(format!("no {name}"))),
        }
    };
    let rows = int(tags::ROWS, "Rows", None)?;
    let cols = int(tags::COLUMNS, "Columns", None)?;
    let nframes = int(tags::NUMBER_OF_FRAMES, "NumberOfFrames", Some(1))?;
    let spp = int(tags::SAMPLES_PER_PIXEL, "SamplesPerPixel", Some(1))?;
    let bits = int(tags::BITS_ALLOCATED, "BitsAllocated", Some(8))?;
    // Only what is read below goes on to the decoder (a SamplesPerPixel of 0 cost 540 MB there).
    if !matches!((bits, spp), (8, 1) | (8, 3) | (16, 1)) {
        return Err(bad(format!(
            "{spp} samples of {bits} bits per pixel: vqtex reads 8-bit gray or RGB and 16-bit gray"
        )));
    }
    if rows == 0 || cols == 0 || nframes == 0 {
        return Err(bad(format!(
            "no pixels: {rows} rows x {cols} columns x {nframes} frames"
        )));
    }
    let need = [rows, cols, nframes, spp, bits.div_ceil(8).max(1)]
        .iter()
        .try_fold(1u64, |a, &b| a.checked_mul(b))
        .filter(|&n| n <= MAX_DICOM_PIXEL_BYTES)
        .ok_or_else(|| {
            bad(format!(
                "{rows} rows x {cols} columns x {nframes} frames x {spp} samples of {bits} bits: \
                 more than the {MAX_DICOM_PIXEL_BYTES} bytes of pixels vqtex reads"
            ))
        })?;
    let pixel_len = obj
        .element(tags::PIXEL_DATA)
        .map_err(|_| bad("no PixelData".into()))?
        .header()
        .len
        .get();
    match pixel_len {
        // Native pixels: the element must hold them all.
        Some(len) if (len as u64) < need => {
            return Err(bad(format!(
                "PixelData holds {len} bytes, but {rows} rows x {cols} columns x {nframes} frames \
                 x {spp} samples of {bits} bits need {need}"
            )))
        }
        None if need > file_len.saturating_mul(MAX_COMPRESSION_RATIO).max(1 << 20) => {
            return Err(bad(format!(
                "{rows} rows x {cols} columns x {nframes} frames of compressed pixels ({need} \
                 bytes) from a {file_len}-byte file: corrupt dimensions"
            )))
        }
        _ => {}
    }
    let patient_id = obj
        .element(tags::PATIENT_ID)
        .ok()
        .and_then(|e| e.to_str().ok().map(|s| s.trim().to_string()))
        .filter(|s| !s.is_empty());
    let px = obj
        .decode_pixel_data()
        .map_err(|e| bad(format!("pixel data: {}", short(&e.to_string()))))?;
    let (w, h) = (px.columns(), px.rows());
    let n = usize::try_from(w as u64 * h as u64).map_err(|_| bad("too many pixels".into()))?;
    let spp = px.samples_per_pixel();
    let pi = px.photometric_interpretation().clone();
    let planar = px.planar_configuration() == PlanarConfiguration::PixelFirst;
    let mut frames = Vec::new();
    for f in 0..px.number_of_frames() {
        let frame_err =
            |e: dicom_pixeldata::Error| bad(format!("frame {f}: {}", short(&e.to_string())));
        let gray_frame: Vec<u8> = match (px.bits_allocated(), spp) {
            (8, 1) => {
                let d = px.frame_data(f).map_err(frame_err)?;
                if d.len() < n {
                    return Err(bad(format!(
                        "frame {f} has {} bytes, expected {n}",
                        d.len()
                    )));
                }
                d[..n].to_vec()
            }
            (8, 3) => {
                let d = px.frame_data(f).map_err(frame_err)?;
                if d.len() < 3 * n {
                    return Err(bad(format!(
                        "frame {f} has {} bytes, expected {}",
                        d.len(),
                        3 * n
                    )));
                }
                let sample = |i: usize, s: usize| if planar { d[s * n + i] } else { d[3 * i + s] };
                let luma_only = matches!(
                    pi,
                    PhotometricInterpretation::YbrFull | PhotometricInterpretation::YbrFull422
                );
                (0..n)
                    .map(|i| {
                        if luma_only {
                            sample(i, 0)
                        } else {
                            gray(sample(i, 0), sample(i, 1), sample(i, 2))
                        }
                    })
                    .collect()
            }
            (16, 1) if px.pixel_representation() == PixelRepresentation::Unsigned => {
                let d = px.frame_data_ow(f).map_err(frame_err)?;
                let max = ((1u32 << px.bits_stored().clamp(1, 16)) - 1) as f64;
                d.iter()
                    .take(n)
                    .map(|&v| (v as f64 * 255.0 / max).round().clamp(0.0, 255.0) as u8)
                    .collect()
            }
            (bits, s) => {
                return Err(bad(format!(
                    "{s} samples of {bits} bits per pixel ({}): vqtex reads 8-bit gray or RGB and \
                     unsigned 16-bit gray",
                    pi
                )))
            }
        };
        let gray_frame = if pi == PhotometricInterpretation::Monochrome1 {
            gray_frame.into_iter().map(|v| 255 - v).collect()
        } else {
            gray_frame
        };
        frames.push(gray_frame);
    }
    if frames.is_empty() {
        return Err(bad("no frames".into()));
    }
    Ok(DicomFrames {
        patient_id,
        width: w,
        height: h,
        frames,
    })
}

/// Writes an uncompressed ultrasound DICOM file (explicit VR little endian), for tests and demos:
/// `pixels` holds `frames` frames, each `rows x cols x (3 if rgb else 1)` bytes, interleaved.
pub fn write_test_dicom(
    path: &Path,
    patient: &str,
    rows: u16,
    cols: u16,
    frames: usize,
    rgb: bool,
    pixels: Vec<u8>,
) -> Result<(), String> {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::uids;
    use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

    let spp: u16 = if rgb { 3 } else { 1 };
    let mut elements = vec![
        DataElement::new(
            tags::SOP_CLASS_UID,
            VR::UI,
            PrimitiveValue::from(uids::ULTRASOUND_IMAGE_STORAGE),
        ),
        DataElement::new(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from("1.2.826.0.1.3680043.2.1125.1"),
        ),
        DataElement::new(tags::PATIENT_ID, VR::LO, PrimitiveValue::from(patient)),
        DataElement::new(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(spp)),
        DataElement::new(
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            PrimitiveValue::from(if rgb { "RGB" } else { "MONOCHROME2" }),
        ),
        DataElement::new(tags::ROWS, VR::US, PrimitiveValue::from(rows)),
        DataElement::new(tags::COLUMNS, VR::US, PrimitiveValue::from(cols)),
        DataElement::new(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(8u16)),
        DataElement::new(tags::BITS_STORED, VR::US, PrimitiveValue::from(8u16)),
        DataElement::new(tags::HIGH_BIT, VR::US, PrimitiveValue::from(7u16)),
        DataElement::new(
            tags::PIXEL_REPRESENTATION,
            VR::US,
            PrimitiveValue::from(0u16),
        ),
        DataElement::new(tags::PIXEL_DATA, VR::OB, PrimitiveValue::from(pixels)),
    ];
    if rgb {
        elements.push(DataElement::new(
            tags::PLANAR_CONFIGURATION,
            VR::US,
            PrimitiveValue::from(0u16),
        ));
    }
    if frames > 1 {
        elements.push(DataElement::new(
            tags::NUMBER_OF_FRAMES,
            VR::IS,
            PrimitiveValue::from(frames.to_string()),
        ));
    }
    let obj = InMemDicomObject::from_element_iter(elements);
    let file = obj
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN))
        .map_err(|e| e.to_string())?;
    file.write_to_file(path).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_frame_gray_multi_frame_and_rgb() {
        let tmp = tempfile::tempdir().unwrap();
        let one = tmp.path().join("one.dcm");
        let px: Vec<u8> = (0..6 * 4).map(|i| (i * 10) as u8).collect();
        write_test_dicom(&one, "P7", 4, 6, 1, false, px.clone()).unwrap();
        let d = read_dicom(&one).unwrap();
        assert_eq!(d.patient_id.as_deref(), Some("P7"));
        assert_eq!((d.width, d.height, d.frames.len()), (6, 4, 1));
        assert_eq!(d.frames[0], px);

        let multi = tmp.path().join("multi");
        let px: Vec<u8> = (0..3 * 4 * 6).map(|i| i as u8).collect();
        write_test_dicom(&multi, "P8", 4, 6, 3, false, px.clone()).unwrap();
        assert!(is_dicom(&multi), "DICM magic without an extension");
        let d = read_dicom(&multi).unwrap();
        assert_eq!(d.frames.len(), 3);
        assert_eq!(d.frames[2], px[48..72].to_vec());

        let rgb = tmp.path().join("rgb.dcm");
        // Pure red, green, blue and a gray pixel.
        let px = vec![255, 0, 0, 0, 255, 0, 0, 0, 255, 90, 90, 90];
        write_test_dicom(&rgb, "P9", 2, 2, 1, true, px).unwrap();
        let d = read_dicom(&rgb).unwrap();
        assert_eq!(d.frames[0], vec![76, 150, 29, 90]);
    }

    /// A gray 4x6 file with `depth` sequences nested in one another before its PixelData.
    fn nested(path: &Path, depth: usize) {
        write_test_dicom(path, "P1", 4, 6, 1, false, vec![9; 24]).unwrap();
        let bytes = std::fs::read(path).unwrap();
        let at = bytes
            .windows(4)
            .position(|w| w == [0xe0, 0x7f, 0x10, 0x00])
            .unwrap();
        let mut seq = Vec::new();
        for _ in 0..depth {
            // (0008,1140) SQ of undefined length, then an item of undefined length.
            seq.extend_from_slice(&[
                0x08, 0x00, 0x40, 0x11, b'S', b'Q', 0, 0, 0xff, 0xff, 0xff, 0xff,
            ]);
            seq.extend_from_slice(&[0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff]);
        }
        for _ in 0..depth {
            seq.extend_from_slice(&[0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0]);
            seq.extend_from_slice(&[0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
        }
        let out = [&bytes[..at], &seq[..], &bytes[at..]].concat();
        std::fs::write(path, out).unwrap();
    }

    #[test]
    fn deeply_nested_sequences_are_refused_before_parsing() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("n.dcm");
        nested(&f, 3);
        assert_eq!(read_dicom(&f).unwrap().frames[0], vec![9; 24]);
        // dicom-object builds sequences recursively: 20,000 levels would overflow the stack.
        nested(&f, 20_000);
        let e = read_dicom(&f).unwrap_err().to_string();
        assert!(e.contains("nested more than 64 levels"), "{e}");
    }

    #[test]
    fn not_dicom_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("x.dcm");
        std::fs::write(&f, b"hello").unwrap();
        let e = read_dicom(&f).unwrap_err().to_string();
        assert!(
            e.contains("x.dcm") && e.contains("not a readable DICOM"),
            "{e}"
        );
    }
}
