//! A writer of Byra-layout MAT v5 files, for tests and measurements (not a general MAT writer).
//!
//! It writes what MATLAB's `save -v7` and scipy's `savemat` write: either header style, compressed or
//! not, either byte order, with the compact storage MATLAB uses (a double `class` stored as miUINT8,
//! small elements for short names and the field-name length).

use std::io::{self, Seek, SeekFrom, Write};

use flate2::write::ZlibEncoder;
use flate2::Compression;

use super::{mi, mx};

/// Whose header text to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderStyle {
    /// `MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: ...`
    Matlab,
    /// `MATLAB 5.0 MAT-file Platform: posix, Created on: ...` (no comma)
    Scipy,
}

/// How to write the file.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    pub header: HeaderStyle,
    pub compressed: bool,
    pub big_endian: bool,
    /// Field names of the struct, in order (default: id, class, fat, images). Fields other than those
    /// four are written empty.
    pub fields: Vec<String>,
    /// Write a small variable `version` before `data` (readers must skip it).
    pub extra_variable: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            header: HeaderStyle::Matlab,
            compressed: true,
            big_endian: false,
            fields: ["id", "class", "fat", "images"].map(String::from).to_vec(),
            extra_variable: false,
        }
    }
}

/// What the file says about one patient; the images come from a callback.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientMeta {
    pub id: f64,
    pub class: f64,
    pub fat: f64,
    /// Frames, rows, columns.
    pub dims: [usize; 3],
}

struct Enc {
    big: bool,
}

impl Enc {
    fn u32(&self, v: u32) -> [u8; 4] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    /// One data element (small form when it fits in 4 bytes), padded to 8 bytes.
    fn element(&self, ty: u32, data: &[u8], out: &mut Vec<u8>) {
        if !data.is_empty() && data.len() <= 4 {
            out.extend_from_slice(&self.u32(((data.len() as u32) << 16) | ty));
            let mut b = [0u8; 4];
            b[..data.len()].copy_from_slice(data);
            out.extend_from_slice(&b);
            return;
        }
        out.extend_from_slice(&self.u32(ty));
        out.extend_from_slice(&self.u32(data.len() as u32));
        out.extend_from_slice(data);
        out.resize(out.len() + super::pad8(data.len() as u64) as usize, 0);
    }

    /// Flags, dims and name sub-elements of an array.
    fn header(&self, class: u8, dims: &[usize], name: &str, out: &mut Vec<u8>) {
        let mut flags = Vec::new();
        flags.extend_from_slice(&self.u32(class as u32));
        flags.extend_from_slice(&self.u32(0));
        self.element(mi::UINT32, &flags, out);
        let d: Vec<u8> = dims.iter().flat_map(|&x| self.u32(x as u32)).collect();
        self.element(mi::INT32, &d, out);
        self.element(mi::INT8, name.as_bytes(), out);
    }

    /// A whole miMATRIX element (tag included) of a numeric array.
    fn numeric(&self, class: u8, dims: &[usize], name: &str, ty: u32, data: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        self.header(class, dims, name, &mut body);
        self.element(ty, data, &mut body);
        self.matrix(body)
    }

    fn matrix(&self, body: Vec<u8>) -> Vec<u8> {
        let mut out = Vec::with_capacity(body.len() + 8);
        out.extend_from_slice(&self.u32(mi::MATRIX));
        out.extend_from_slice(&self.u32(body.len() as u32));
        out.extend_from_slice(&body);
        out
    }

    fn double(&self, v: f64) -> Vec<u8> {
        let b = if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.numeric(mx::DOUBLE, &[1, 1], "", mi::DOUBLE, &b)
    }

    /// The struct fields of one patient, each a miMATRIX element.
    fn patient(&self, opts: &WriteOptions, meta: &PatientMeta, images: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for f in &opts.fields {
            let el = match f.as_str() {
                "id" => self.double(meta.id),
                // MATLAB stores a small integral double compactly, as miUINT8.
                "class" if meta.class.fract() == 0.0 && (0.0..=255.0).contains(&meta.class) => {
                    self.numeric(mx::DOUBLE, &[1, 1], "", mi::UINT8, &[meta.class as u8])
                }
                "class" => self.double(meta.class),
                "fat" => self.double(meta.fat),
                "images" => self.numeric(mx::UINT8, &meta.dims, "", mi::UINT8, images),
                _ => self.matrix(Vec::new()),
            };
            out.extend_from_slice(&el);
        }
        out
    }
}

fn header_text(style: HeaderStyle, big: bool) -> [u8; 128] {
    let text = match style {
        HeaderStyle::Matlab => {
            "MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Mon Jan 15 10:00:00 2018"
        }
        HeaderStyle::Scipy => {
            "MATLAB 5.0 MAT-file Platform: posix, Created on: Mon Jan 15 10:00:00 2018"
        }
    };
    let mut h = [b' '; 128];
    h[..text.len()].copy_from_slice(text.as_bytes());
    h[116..124].fill(0);
    let (version, endian) = if big {
        (0x0100u16.to_be_bytes(), *b"MI")
    } else {
        (0x0100u16.to_le_bytes(), *b"IM")
    };
    h[124..126].copy_from_slice(&version);
    h[126..128].copy_from_slice(&endian);
    h
}

/// Writes a whole variable element, compressed or not.
fn variable<W: Write + Seek>(
    w: &mut W,
    e: &Enc,
    compressed: bool,
    body: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    if !compressed {
        return body(w);
    }
    let at = w.stream_position()?;
    w.write_all(&e.u32(mi::COMPRESSED))?;
    w.write_all(&e.u32(0))?;
    let mut z = ZlibEncoder::new(&mut *w, Compression::default());
    body(&mut z)?;
    z.finish()?;
    // Compressed elements are not padded (MATLAB and scipy agree): the next one starts right after.
    let end = w.stream_position()?;
    let len = end - at - 8;
    w.seek(SeekFrom::Start(at + 4))?;
    w.write_all(&e.u32(len as u32))?;
    w.seek(SeekFrom::Start(end))?;
    Ok(())
}

/// Writes a Byra-layout file: variable `data`, a 1xN struct array. `images(i)` gives patient `i`'s
/// pixels in column-major order (`f + F * (r + H * c)`), one patient at a time.
pub fn write_byra<W: Write + Seek>(
    w: &mut W,
    opts: &WriteOptions,
    patients: &[PatientMeta],
    mut images: impl FnMut(usize) -> Vec<u8>,
) -> io::Result<()> {
    let e = Enc {
        big: opts.big_endian,
    };
    w.write_all(&header_text(opts.header, opts.big_endian))?;
    if opts.extra_variable {
        let mut body = Vec::new();
        e.header(mx::DOUBLE, &[1, 1], "version", &mut body);
        let v = if e.big {
            7.0f64.to_be_bytes()
        } else {
            7.0f64.to_le_bytes()
        };
        e.element(mi::DOUBLE, &v, &mut body);
        let el = e.matrix(body);
        variable(w, &e, opts.compressed, |z| z.write_all(&el))?;
    }
    // The struct's header and the size of everything in it (sizes depend only on the dims).
    let mut head = Vec::new();
    e.header(mx::STRUCT, &[1, patients.len()], "data", &mut head);
    let width = 32usize;
    e.element(mi::INT32, &e.u32(width as u32), &mut head);
    let mut names = vec![0u8; width * opts.fields.len()];
    for (i, f) in opts.fields.iter().enumerate() {
        names[i * width..i * width + f.len()].copy_from_slice(f.as_bytes());
    }
    e.element(mi::INT8, &names, &mut head);
    let total: usize = head.len()
        + patients
            .iter()
            .map(|m| {
                let n = m.dims.iter().product();
                e.patient(opts, m, &vec![0u8; n]).len()
            })
            .sum::<usize>();
    variable(w, &e, opts.compressed, |z| {
        z.write_all(&e.u32(mi::MATRIX))?;
        z.write_all(&e.u32(total as u32))?;
        z.write_all(&head)?;
        for (i, m) in patients.iter().enumerate() {
            let px = images(i);
            assert_eq!(
                px.len(),
                m.dims.iter().product::<usize>(),
                "patient {i} images"
            );
            z.write_all(&e.patient(opts, m, &px))?;
        }
        Ok(())
    })?;
    w.flush()
}
