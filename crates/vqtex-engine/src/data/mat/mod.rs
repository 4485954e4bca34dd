//! A small, strict reader of the MAT v5 subset that holds the Byra et al. dataset.
//!
//! Why hand-written: the `matfile` crate cannot read struct arrays, and `matrw` rejects the header
//! scipy writes (`MATLAB 5.0 MAT-file Platform: ...`, no comma). The subset is small: the 128-byte
//! header, data-element tags (normal and small), `miCOMPRESSED` (zlib), `miMATRIX` with struct,
//! numeric and char classes. Both byte orders are read.
//!
//! The file holds one variable `data`, a 1xN struct array whose fields are `id`, `class`, `fat` and
//! `images` (F x H x W uint8, column-major). MATLAB stores the whole struct array as ONE compressed
//! element, so [`ByraReader`] decompresses it as a stream and yields one patient at a time: memory
//! stays about one patient's images, whatever the number of patients.

pub mod writer;

use std::io::{self, Read, Seek, SeekFrom};

use flate2::read::ZlibDecoder;

use super::Label;

/// Data types of MAT v5 data elements.
pub(crate) mod mi {
    pub const INT8: u32 = 1;
    pub const UINT8: u32 = 2;
    pub const INT16: u32 = 3;
    pub const UINT16: u32 = 4;
    pub const INT32: u32 = 5;
    pub const UINT32: u32 = 6;
    pub const SINGLE: u32 = 7;
    pub const DOUBLE: u32 = 9;
    pub const INT64: u32 = 12;
    pub const UINT64: u32 = 13;
    pub const MATRIX: u32 = 14;
    pub const COMPRESSED: u32 = 15;
    pub const UTF8: u32 = 16;
    pub const UTF16: u32 = 17;
}

/// Array classes (the low byte of the array flags).
pub(crate) mod mx {
    pub const CELL: u8 = 1;
    pub const STRUCT: u8 = 2;
    pub const OBJECT: u8 = 3;
    pub const CHAR: u8 = 4;
    pub const SPARSE: u8 = 5;
    pub const DOUBLE: u8 = 6;
    pub const UINT8: u8 = 9;
    pub const UINT64: u8 = 15;
}

/// Flag bit of a complex array.
const COMPLEX: u32 = 0x0800;
/// Largest single field we accept (a patient's images are 2.8 MB): guards against a corrupt size.
const MAX_FIELD_BYTES: u64 = 1 << 28;
/// Most numbers of a field kept as f64 (id, class, fat); larger numeric arrays become bytes.
const MAX_NUMBERS: u64 = 16;
/// Longest array name (MATLAB's own limit is 63 characters).
const MAX_NAME_BYTES: u64 = 4096;
/// Most dimensions of an array.
const MAX_DIMS: u64 = 32;
/// Longest field name slot (MATLAB writes 32 or 64) and most fields of a struct.
const MAX_FIELD_NAME_LEN: usize = 1024;
const MAX_FIELDS: usize = 4096;
/// Longest id text (it becomes part of file names).
const MAX_ID_CHARS: usize = 64;
/// Most bytes read ahead of the data actually arriving (a stream's declared size may lie).
const READ_CHUNK: u64 = 1 << 20;

/// How to turn a v7.3 file into one vqtex reads.
pub const V73_HINT: &str = "this is a MATLAB v7.3 (HDF5) file; vqtex reads MAT v5/v7 files. Convert \
     it in MATLAB with `d = load('FILE'); save('out.mat', '-struct', 'd', '-v7')`, or in Python with \
     `scipy.io.savemat('out.mat', {'data': ...}, do_compression=True)` after reading it with h5py";

/// Why a MAT file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MatError {
    #[error("cannot read: {0}")]
    Io(#[from] io::Error),
    #[error("the file ends early, inside {0}: it is truncated (download it again)")]
    Truncated(String),
    #[error("{0}")]
    V73(&'static str),
    #[error("not a MATLAB v5 MAT-file: {0}")]
    NotMat(String),
    #[error("malformed MAT file: {0}")]
    Format(String),
    #[error("unsupported MAT content: {0}")]
    Unsupported(String),
    #[error("no variable named 'data' (variables found: {0})")]
    NoData(String),
    #[error(
        "'data' has fields {found}; expected a struct array with fields id, class, fat, images"
    )]
    Fields { found: String },
    #[error("patient {index} (element {index} of 'data'): {message}")]
    Patient { index: usize, message: String },
}

/// `s` cut to `max` characters, for error messages that must stay short whatever the file holds.
fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(max).collect::<String>())
    }
}

/// Up to 8 names, each cut short, with how many more there are.
fn name_list(names: &[String]) -> String {
    if names.is_empty() {
        return "none".into();
    }
    let mut out: Vec<String> = names.iter().take(8).map(|n| short(n, 40)).collect();
    if names.len() > 8 {
        out.push(format!("and {} more", names.len() - 8));
    }
    out.join(", ")
}

fn truncated(what: &str) -> impl Fn(io::Error) -> MatError + '_ {
    move |e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            MatError::Truncated(what.to_string())
        } else if e.kind() == io::ErrorKind::InvalidInput || e.kind() == io::ErrorKind::InvalidData
        {
            MatError::Format(format!("corrupt compressed data in {what}: {e}"))
        } else {
            MatError::Io(e)
        }
    }
}

/// One patient of the Byra dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct MatPatient {
    /// 1-based position in the struct array.
    pub index: usize,
    /// The `id` field: a number written without decimals, or text.
    pub id: String,
    pub label: Label,
    /// Fat percentage, when the field is there and not empty.
    pub fat: Option<f64>,
    /// Frames, rows, columns.
    pub frames: usize,
    pub height: usize,
    pub width: usize,
    /// Pixels in the file's column-major order: (f, r, c) at `f + frames * (r + height * c)`.
    pub images: Vec<u8>,
}

impl MatPatient {
    /// Frame `f` as a row-major `height x width` image.
    pub fn frame(&self, f: usize) -> Vec<u8> {
        let (nf, h, w) = (self.frames, self.height, self.width);
        let mut out = vec![0u8; h * w];
        for c in 0..w {
            for r in 0..h {
                out[r * w + c] = self.images[f + nf * (r + h * c)];
            }
        }
        out
    }
}

#[derive(Debug, Clone, Copy)]
struct Tag {
    ty: u32,
    len: u64,
    /// Small element: data held in the tag's last 4 bytes.
    small: Option<[u8; 4]>,
}

/// A byte-order-aware reader of data elements.
pub(crate) struct Elements<R> {
    r: R,
    big: bool,
    /// Bytes left in the enclosing element (or the file), as declared: nothing may claim more.
    remaining: u64,
}

impl<R: Read> Elements<R> {
    fn u32(&self, b: [u8; 4]) -> u32 {
        if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    fn tag(&mut self, what: &str) -> Result<Tag, MatError> {
        if self.remaining < 8 {
            return Err(MatError::Truncated(format!(
                "{what} (only {} bytes left for an 8-byte tag)",
                self.remaining
            )));
        }
        let mut b = [0u8; 8];
        self.r.read_exact(&mut b).map_err(truncated(what))?;
        self.remaining -= 8;
        let first = self.u32([b[0], b[1], b[2], b[3]]);
        let upper = first >> 16;
        if upper != 0 {
            if upper > 4 {
                return Err(MatError::Format(format!(
                    "small element of {upper} bytes in {what} (at most 4)"
                )));
            }
            return Ok(Tag {
                ty: first & 0xffff,
                len: upper as u64,
                small: Some([b[4], b[5], b[6], b[7]]),
            });
        }
        Ok(Tag {
            ty: first,
            len: self.u32([b[4], b[5], b[6], b[7]]) as u64,
            small: None,
        })
    }

    /// The data bytes of a tag's element, padding to 8 bytes consumed. The size is checked against
    /// the bytes left in the enclosing element and against `max` before anything is allocated, and
    /// the buffer grows with the bytes that really arrive (a compressed stream may end early).
    fn data(&mut self, tag: Tag, what: &str, max: u64) -> Result<Vec<u8>, MatError> {
        if let Some(s) = tag.small {
            return Ok(s[..(tag.len as usize).min(4)].to_vec());
        }
        if tag.len > max {
            return Err(MatError::Format(format!(
                "{what} claims {} bytes, more than the {max} allowed: corrupt size",
                tag.len
            )));
        }
        if tag.len > self.remaining {
            return Err(MatError::Format(format!(
                "{what} claims {} bytes, but its enclosing element has only {} left",
                tag.len, self.remaining
            )));
        }
        let mut v = Vec::with_capacity(tag.len.min(READ_CHUNK) as usize);
        (&mut self.r)
            .take(tag.len)
            .read_to_end(&mut v)
            .map_err(truncated(what))?;
        if (v.len() as u64) < tag.len {
            return Err(MatError::Truncated(what.to_string()));
        }
        self.remaining -= tag.len;
        // The last element of a container may go unpadded.
        self.skip(pad8(tag.len).min(self.remaining), what)?;
        Ok(v)
    }

    fn skip(&mut self, n: u64, what: &str) -> Result<(), MatError> {
        let copied =
            io::copy(&mut (&mut self.r).take(n), &mut io::sink()).map_err(truncated(what))?;
        if copied < n {
            return Err(MatError::Truncated(what.to_string()));
        }
        self.remaining = self.remaining.saturating_sub(n);
        Ok(())
    }

    /// Reads one element's tag and data (at most `max` bytes), checking its type is one of `types`.
    fn element(&mut self, types: &[u32], what: &str, max: u64) -> Result<Vec<u8>, MatError> {
        let tag = self.tag(what)?;
        if !types.contains(&tag.ty) {
            return Err(MatError::Format(format!(
                "{what}: element of type {} where {types:?} was expected",
                tag.ty
            )));
        }
        self.data(tag, what, max)
    }

    /// The header of a miMATRIX whose tag was read: flags, dims and name.
    fn matrix_header(&mut self, what: &str) -> Result<MatrixHeader, MatError> {
        let flags = self.element(&[mi::UINT32], what, 8)?;
        if flags.len() != 8 {
            return Err(MatError::Format(format!(
                "{what}: array flags of {} bytes",
                flags.len()
            )));
        }
        let f = self.u32([flags[0], flags[1], flags[2], flags[3]]);
        let dims_raw = self.element(&[mi::INT32], what, 4 * MAX_DIMS)?;
        if dims_raw.len() % 4 != 0 || dims_raw.len() < 8 {
            return Err(MatError::Format(format!(
                "{what}: dimensions element of {} bytes (expected 4 per dimension, at least 2)",
                dims_raw.len()
            )));
        }
        let mut dims = Vec::with_capacity(dims_raw.len() / 4);
        for c in dims_raw.chunks_exact(4) {
            let d = self.u32([c[0], c[1], c[2], c[3]]) as i32;
            let d = usize::try_from(d)
                .map_err(|_| MatError::Format(format!("{what}: negative dimension {d}")))?;
            dims.push(d);
        }
        let count = dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
            .ok_or_else(|| {
                MatError::Format(format!(
                    "{what}: dimensions {dims:?} overflow when multiplied"
                ))
            })?;
        let name = self.element(&[mi::INT8, mi::UINT8], what, MAX_NAME_BYTES)?;
        Ok(MatrixHeader {
            class: (f & 0xff) as u8,
            complex: f & COMPLEX != 0,
            dims,
            count,
            name: String::from_utf8_lossy(&name).into_owned(),
        })
    }
}

fn pad8(n: u64) -> u64 {
    (8 - n % 8) % 8
}

#[derive(Debug, Clone)]
struct MatrixHeader {
    class: u8,
    complex: bool,
    dims: Vec<usize>,
    /// Product of the dimensions (checked: it did not overflow).
    count: u64,
    name: String,
}

/// The value of a struct field.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Empty,
    Bytes { dims: Vec<usize>, data: Vec<u8> },
    Numbers { dims: Vec<usize>, data: Vec<f64> },
    Text(String),
}

/// Bytes per value of a numeric element type.
fn value_size(ty: u32) -> Option<u64> {
    Some(match ty {
        mi::INT8 | mi::UINT8 => 1,
        mi::INT16 | mi::UINT16 => 2,
        mi::INT32 | mi::UINT32 | mi::SINGLE => 4,
        mi::INT64 | mi::UINT64 | mi::DOUBLE => 8,
        _ => return None,
    })
}

/// Calls `f` with each value of a numeric element, as f64, until it returns false; returns
/// whether every value was taken.
fn each_number(ty: u32, raw: &[u8], big: bool, mut f: impl FnMut(f64) -> bool) -> bool {
    macro_rules! conv {
        ($t:ty, $n:expr) => {
            raw.chunks_exact($n).all(|c| {
                let mut a = [0u8; $n];
                a.copy_from_slice(c);
                f((if big {
                    <$t>::from_be_bytes(a)
                } else {
                    <$t>::from_le_bytes(a)
                }) as f64)
            })
        };
    }
    match ty {
        mi::INT8 => raw.iter().all(|&b| f(b as i8 as f64)),
        mi::UINT8 => raw.iter().all(|&b| f(b as f64)),
        mi::INT16 => conv!(i16, 2),
        mi::UINT16 => conv!(u16, 2),
        mi::INT32 => conv!(i32, 4),
        mi::UINT32 => conv!(u32, 4),
        mi::INT64 => conv!(i64, 8),
        mi::UINT64 => conv!(u64, 8),
        mi::SINGLE => conv!(f32, 4),
        mi::DOUBLE => conv!(f64, 8),
        _ => false,
    }
}

/// Parses a field's miMATRIX payload (everything after its tag).
fn parse_field(payload: &[u8], big: bool, what: &str) -> Result<Value, MatError> {
    let mut e = Elements {
        r: payload,
        big,
        remaining: payload.len() as u64,
    };
    let h = e.matrix_header(what)?;
    if h.complex {
        return Err(MatError::Unsupported(format!("{what} is complex")));
    }
    match h.class {
        mx::CHAR => {
            let tag = e.tag(what)?;
            let raw = e.data(tag, what, MAX_FIELD_BYTES)?;
            let text = match tag.ty {
                mi::UTF8 | mi::UINT8 | mi::INT8 => String::from_utf8_lossy(&raw).into_owned(),
                mi::UTF16 | mi::UINT16 => {
                    let units: Vec<u16> = raw
                        .chunks_exact(2)
                        .map(|c| {
                            if big {
                                u16::from_be_bytes([c[0], c[1]])
                            } else {
                                u16::from_le_bytes([c[0], c[1]])
                            }
                        })
                        .collect();
                    String::from_utf16_lossy(&units)
                }
                other => {
                    return Err(MatError::Unsupported(format!(
                        "{what}: text stored as element type {other}"
                    )))
                }
            };
            Ok(Value::Text(text.trim().to_string()))
        }
        mx::DOUBLE..=mx::UINT64 => {
            if h.count == 0 {
                return Ok(Value::Empty);
            }
            let tag = e.tag(what)?;
            let size = value_size(tag.ty).ok_or_else(|| {
                MatError::Unsupported(format!("{what}: numeric data of element type {}", tag.ty))
            })?;
            // The dimensions must match the data's size before anything is decoded.
            let expected = h.count.checked_mul(size).filter(|&b| b == tag.len);
            if expected.is_none() {
                return Err(MatError::Format(format!(
                    "{what}: {} bytes of {size}-byte values for dimensions {:?}",
                    tag.len, h.dims
                )));
            }
            let raw = e.data(tag, what, MAX_FIELD_BYTES)?;
            if tag.ty == mi::UINT8 {
                return Ok(Value::Bytes {
                    dims: h.dims,
                    data: raw,
                });
            }
            if h.count <= MAX_NUMBERS {
                let mut data = Vec::with_capacity(h.count as usize);
                each_number(tag.ty, &raw, big, |v| {
                    data.push(v);
                    true
                });
                return Ok(Value::Numbers { dims: h.dims, data });
            }
            // An array (images stored as double, say): straight to bytes, never 8 bytes a value.
            let mut data = Vec::with_capacity(h.count as usize);
            let ok = each_number(tag.ty, &raw, big, |v| {
                let byte = v.fract() == 0.0 && (0.0..=255.0).contains(&v);
                data.push(v as u8);
                byte
            });
            if !ok {
                return Err(MatError::Format(format!(
                    "{what} holds values outside 0-255 integers"
                )));
            }
            Ok(Value::Bytes { dims: h.dims, data })
        }
        mx::CELL | mx::STRUCT | mx::OBJECT | mx::SPARSE => Err(MatError::Unsupported(format!(
            "{what} is a cell, struct, object or sparse array"
        ))),
        other => Err(MatError::Unsupported(format!(
            "{what}: array class {other}"
        ))),
    }
}

/// The four fields vqtex needs, by position in the struct.
#[derive(Debug, Clone)]
struct FieldMap {
    names: Vec<String>,
    id: Option<usize>,
    class: usize,
    fat: Option<usize>,
    images: usize,
}

impl FieldMap {
    fn new(names: Vec<String>) -> Result<FieldMap, MatError> {
        let pos = |n: &str| names.iter().position(|f| f == n);
        match (pos("class"), pos("images")) {
            (Some(class), Some(images)) => Ok(FieldMap {
                id: pos("id"),
                class,
                fat: pos("fat"),
                images,
                names,
            }),
            _ => Err(MatError::Fields {
                found: name_list(&names),
            }),
        }
    }
}

/// Checks the 128-byte header and returns whether the file is big-endian.
fn check_header(h: &[u8; 128], tail: Option<&[u8]>) -> Result<bool, MatError> {
    const HDF5: &[u8] = b"\x89HDF\r\n\x1a\n";
    if h.starts_with(HDF5) || tail.is_some_and(|t| t.starts_with(HDF5)) {
        return Err(MatError::V73(V73_HINT));
    }
    let text = String::from_utf8_lossy(&h[..116]);
    if text.starts_with("MATLAB 7.3") {
        return Err(MatError::V73(V73_HINT));
    }
    let big = match &h[126..128] {
        b"IM" => false,
        b"MI" => true,
        _ => {
            return Err(MatError::NotMat(
                "no MAT v5 endian indicator at bytes 126-127 (a v4 file, or not MATLAB)".into(),
            ))
        }
    };
    let version = if big {
        u16::from_be_bytes([h[124], h[125]])
    } else {
        u16::from_le_bytes([h[124], h[125]])
    };
    if version == 0x0200 {
        return Err(MatError::V73(V73_HINT));
    }
    if version != 0x0100 {
        return Err(MatError::NotMat(format!("header version 0x{version:04x}")));
    }
    if !text.starts_with("MATLAB 5.0 MAT-file") {
        return Err(MatError::NotMat(format!(
            "header text starts '{}'",
            text.chars()
                .take(24)
                .map(|c| if c.is_control() { '?' } else { c })
                .collect::<String>()
        )));
    }
    Ok(big)
}

/// Streams the patients of a Byra-layout MAT file, one struct element at a time.
pub struct ByraReader {
    elements: Elements<Box<dyn Read>>,
    fields: FieldMap,
    /// Number of patients in the struct array.
    pub count: usize,
    next: usize,
    failed: bool,
}

impl std::fmt::Debug for ByraReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByraReader")
            .field("fields", &self.fields.names)
            .field("count", &self.count)
            .field("next", &self.next)
            .finish()
    }
}

impl ByraReader {
    /// Opens the file at `path`.
    pub fn open(path: &std::path::Path) -> Result<ByraReader, MatError> {
        let f = std::fs::File::open(path)?;
        ByraReader::new(io::BufReader::with_capacity(1 << 16, f))
    }

    /// Reads the header and finds the variable `data`, leaving the reader at its first element.
    pub fn new<R: Read + Seek + 'static>(mut r: R) -> Result<ByraReader, MatError> {
        let mut h = [0u8; 128];
        let mut got = 0;
        while got < 128 {
            let n = r.read(&mut h[got..])?;
            if n == 0 {
                break;
            }
            got += n;
        }
        // A v7.3 file is HDF5 with its superblock at 512: look there before judging the header.
        let mut tail = [0u8; 8];
        let tail_ok = r.seek(SeekFrom::Start(512)).is_ok() && r.read_exact(&mut tail).is_ok();
        if got < 128 {
            check_header(&h, tail_ok.then_some(&tail[..]))?;
            return Err(MatError::NotMat(format!(
                "only {got} bytes, shorter than the 128-byte header"
            )));
        }
        let big = check_header(&h, tail_ok.then_some(&tail[..]))?;
        let file_len = r.seek(SeekFrom::End(0))?;
        let mut pos = 128u64;
        let mut names = Vec::new();
        loop {
            r.seek(SeekFrom::Start(pos))?;
            let mut top = Elements {
                r: &mut r,
                big,
                remaining: file_len.saturating_sub(pos),
            };
            let tag = match top.tag("a top-level element") {
                Ok(t) => t,
                Err(MatError::Truncated(_)) => return Err(MatError::NoData(name_list(&names))),
                Err(e) => return Err(e),
            };
            if tag.small.is_some() {
                return Err(MatError::Format("small element at top level".into()));
            }
            if tag.len > top.remaining {
                return Err(MatError::Truncated(format!(
                    "a variable of {} bytes, with {} bytes left in the file",
                    tag.len, top.remaining
                )));
            }
            let start = pos + 8;
            // Top-level elements are not padded: a miMATRIX's size is a multiple of 8 already and a
            // miCOMPRESSED's is not rounded up (as scipy reads them).
            pos = start + tag.len;
            let header = match tag.ty {
                mi::COMPRESSED => {
                    let mut inner = Elements {
                        r: ZlibDecoder::new((&mut r).take(tag.len)),
                        big,
                        remaining: u64::MAX,
                    };
                    read_top_matrix(&mut inner)?
                }
                mi::MATRIX => {
                    top.remaining = tag.len;
                    top.matrix_header("a variable's header")?
                }
                other => {
                    return Err(MatError::Format(format!(
                        "top-level element of type {other}"
                    )));
                }
            };
            if header.name != "data" {
                names.push(header.name);
                continue;
            }
            // Found it: start over at its data, owning the stream.
            r.seek(SeekFrom::Start(start))?;
            let stream: Box<dyn Read> = if tag.ty == mi::COMPRESSED {
                Box::new(io::BufReader::with_capacity(
                    1 << 16,
                    ZlibDecoder::new(r.take(tag.len)),
                ))
            } else {
                Box::new(r.take(tag.len))
            };
            let mut elements = Elements {
                r: stream,
                big,
                remaining: tag.len,
            };
            if tag.ty == mi::COMPRESSED {
                // What the compressed stream inflates to is bounded by the size its array declares.
                elements.remaining = u64::MAX;
                let t = elements.tag("'data'")?;
                if t.ty != mi::MATRIX || t.small.is_some() {
                    return Err(MatError::Format(
                        "compressed element is not an array".into(),
                    ));
                }
                elements.remaining = t.len;
            }
            let header = elements.matrix_header("'data'")?;
            if header.class != mx::STRUCT {
                return Err(MatError::Fields {
                    found: "none ('data' is not a struct array)".into(),
                });
            }
            let len = elements.element(&[mi::INT32], "field name length", 4)?;
            let len: [u8; 4] = len.as_slice().try_into().map_err(|_| {
                MatError::Format(format!(
                    "field name length element of {} bytes (expected 4)",
                    len.len()
                ))
            })?;
            let len = elements.u32(len) as usize;
            if len == 0 || len > MAX_FIELD_NAME_LEN {
                return Err(MatError::Format(format!(
                    "field name length {len} (expected 1 to {MAX_FIELD_NAME_LEN})"
                )));
            }
            let raw = elements.element(
                &[mi::INT8, mi::UINT8],
                "field names",
                (len * MAX_FIELDS) as u64,
            )?;
            if raw.len() % len != 0 {
                return Err(MatError::Format(format!(
                    "field names of {} bytes with length {len}",
                    raw.len()
                )));
            }
            let fields: Vec<String> = raw
                .chunks(len)
                .map(|c| {
                    let end = c.iter().position(|&b| b == 0).unwrap_or(c.len());
                    String::from_utf8_lossy(&c[..end]).into_owned()
                })
                .collect();
            let fields = FieldMap::new(fields)?;
            // Every field of every patient takes at least an 8-byte tag: the count must fit.
            let fits = header
                .count
                .checked_mul(8 * fields.names.len() as u64)
                .is_some_and(|b| b <= elements.remaining);
            if !fits {
                return Err(MatError::Format(format!(
                    "'data' declares {} patients of {} fields, more than its {} bytes can hold",
                    header.count,
                    fields.names.len(),
                    elements.remaining
                )));
            }
            return Ok(ByraReader {
                elements,
                fields,
                count: header.count as usize,
                next: 0,
                failed: false,
            });
        }
    }

    /// Field names of the struct, in file order.
    pub fn field_names(&self) -> &[String] {
        &self.fields.names
    }

    fn read_patient(&mut self) -> Result<MatPatient, MatError> {
        let index = self.next + 1;
        let err = |message: String| MatError::Patient { index, message };
        let mut values = Vec::with_capacity(self.fields.names.len());
        for name in self.fields.names.clone() {
            let what = format!("field '{}' of patient {index}", short(&name, 40));
            let tag = self.elements.tag(&what)?;
            if tag.ty != mi::MATRIX || tag.small.is_some() {
                return Err(MatError::Format(format!(
                    "{what}: element of type {}",
                    tag.ty
                )));
            }
            if tag.len == 0 {
                values.push(Value::Empty);
                continue;
            }
            let payload = self.elements.data(tag, &what, MAX_FIELD_BYTES)?;
            values.push(parse_field(&payload, self.elements.big, &what)?);
        }
        let scalar = |i: usize, name: &str| -> Result<Option<f64>, MatError> {
            match &values[i] {
                Value::Empty => Ok(None),
                Value::Numbers { data, .. } if data.len() == 1 => Ok(Some(data[0])),
                Value::Bytes { data, .. } if data.len() == 1 => Ok(Some(data[0] as f64)),
                Value::Text(t) => t.parse::<f64>().map(Some).map_err(|_| {
                    err(format!(
                        "'{name}' is the text '{}', not a number",
                        short(t, 40)
                    ))
                }),
                _ => Err(err(format!("'{name}' is not a single number"))),
            }
        };
        let id = match self.fields.id.map(|i| (i, &values[i])) {
            None | Some((_, Value::Empty)) => format!("{index:02}"),
            Some((_, Value::Text(t))) if t.chars().count() > MAX_ID_CHARS => {
                return Err(err(format!(
                    "id '{}' is longer than {MAX_ID_CHARS} characters",
                    short(t, 40)
                )))
            }
            Some((_, Value::Text(t))) if !t.is_empty() => t.clone(),
            Some((i, _)) => {
                let v = scalar(i, "id")?.unwrap_or(index as f64);
                if v.fract() == 0.0 && v >= 0.0 {
                    format!("{:02}", v as u64)
                } else {
                    format!("{v}")
                }
            }
        };
        let label = match scalar(self.fields.class, "class")? {
            Some(0.0) => Label::Healthy,
            Some(1.0) => Label::Steatosis,
            Some(v) => {
                return Err(err(format!(
                    "class is {v}, expected 0 (healthy) or 1 (steatotic)"
                )))
            }
            None => return Err(err("class is empty".into())),
        };
        let fat = match self.fields.fat {
            Some(i) => scalar(i, "fat")?,
            None => None,
        };
        let (dims, images) = match std::mem::replace(&mut values[self.fields.images], Value::Empty)
        {
            Value::Bytes { dims, data } => (dims, data),
            Value::Numbers { dims, data } => {
                let ok = data
                    .iter()
                    .all(|v| v.fract() == 0.0 && (0.0..=255.0).contains(v));
                if !ok {
                    return Err(err("images hold values outside 0-255 integers".into()));
                }
                (dims, data.into_iter().map(|v| v as u8).collect())
            }
            _ => return Err(err("images is empty or not a numeric array".into())),
        };
        let (frames, height, width) = match dims[..] {
            [h, w] => (1, h, w),
            [f, h, w] => (f, h, w),
            _ => {
                return Err(err(format!(
                    "images has dimensions {dims:?}, expected frames x rows x columns"
                )))
            }
        };
        Ok(MatPatient {
            index,
            id,
            label,
            fat,
            frames,
            height,
            width,
            images,
        })
    }
}

fn read_top_matrix<R: Read>(e: &mut Elements<R>) -> Result<MatrixHeader, MatError> {
    let tag = e.tag("a compressed variable")?;
    if tag.ty != mi::MATRIX || tag.small.is_some() {
        return Err(MatError::Format(format!(
            "variable of element type {}",
            tag.ty
        )));
    }
    e.remaining = tag.len;
    e.matrix_header("a variable's header")
}

impl Iterator for ByraReader {
    type Item = Result<MatPatient, MatError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.next >= self.count {
            return None;
        }
        let p = self.read_patient();
        self.failed = p.is_err();
        self.next += 1;
        Some(p)
    }
}

#[cfg(test)]
mod tests;
