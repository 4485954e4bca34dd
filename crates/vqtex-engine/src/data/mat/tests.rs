use std::io::Cursor;

use super::writer::{write_byra, HeaderStyle, PatientMeta, WriteOptions};
use super::*;

/// Patient `i`'s pixels in column-major order, from a pattern that tells frames, rows and columns
/// apart: value at (f, r, c) = (7f + 3r + 5c + 11i) mod 256.
fn pixels(i: usize, [nf, h, w]: [usize; 3]) -> Vec<u8> {
    let mut v = vec![0u8; nf * h * w];
    for c in 0..w {
        for r in 0..h {
            for f in 0..nf {
                v[f + nf * (r + h * c)] = ((7 * f + 3 * r + 5 * c + 11 * i) % 256) as u8;
            }
        }
    }
    v
}

fn metas(n: usize, dims: [usize; 3]) -> Vec<PatientMeta> {
    (0..n)
        .map(|i| PatientMeta {
            id: (i + 1) as f64,
            class: if i < 2 { 0.0 } else { 1.0 },
            fat: i as f64 * 12.5,
            dims,
        })
        .collect()
}

fn file(opts: &WriteOptions, metas: &[PatientMeta]) -> Vec<u8> {
    let mut c = Cursor::new(Vec::new());
    write_byra(&mut c, opts, metas, |i| pixels(i, metas[i].dims)).unwrap();
    c.into_inner()
}

fn read_all(bytes: Vec<u8>) -> Result<Vec<MatPatient>, MatError> {
    ByraReader::new(Cursor::new(bytes))?.collect()
}

#[test]
fn round_trip_every_header_compression_and_byte_order() {
    let dims = [3, 20, 30];
    let m = metas(4, dims);
    for header in [HeaderStyle::Matlab, HeaderStyle::Scipy] {
        for compressed in [true, false] {
            for big_endian in [false, true] {
                let opts = WriteOptions {
                    header,
                    compressed,
                    big_endian,
                    ..WriteOptions::default()
                };
                let bytes = file(&opts, &m);
                let text = String::from_utf8_lossy(&bytes[..30]).into_owned();
                match header {
                    HeaderStyle::Matlab => {
                        assert!(text.starts_with("MATLAB 5.0 MAT-file, Platform"))
                    }
                    HeaderStyle::Scipy => assert!(text.starts_with("MATLAB 5.0 MAT-file Platform")),
                }
                let got = read_all(bytes).unwrap_or_else(|e| panic!("{opts:?}: {e}"));
                assert_eq!(got.len(), 4, "{opts:?}");
                for (i, p) in got.iter().enumerate() {
                    assert_eq!(p.index, i + 1);
                    assert_eq!(p.id, format!("{:02}", i + 1));
                    let want = if i < 2 {
                        Label::Healthy
                    } else {
                        Label::Steatosis
                    };
                    assert_eq!(p.label, want);
                    assert_eq!(p.fat, Some(i as f64 * 12.5));
                    assert_eq!((p.frames, p.height, p.width), (3, 20, 30));
                    assert_eq!(p.images, pixels(i, dims), "{opts:?} patient {i}");
                }
            }
        }
    }
}

#[test]
fn frames_are_read_column_major() {
    let dims = [3, 4, 5];
    let bytes = file(&WriteOptions::default(), &metas(1, dims));
    let p = read_all(bytes).unwrap().remove(0);
    for f in 0..3 {
        let img = p.frame(f);
        for r in 0..4 {
            for c in 0..5 {
                assert_eq!(
                    img[r * 5 + c] as usize,
                    (7 * f + 3 * r + 5 * c) % 256,
                    "({f},{r},{c})"
                );
            }
        }
    }
}

#[test]
fn other_variables_before_data_are_skipped() {
    for compressed in [true, false] {
        let opts = WriteOptions {
            compressed,
            extra_variable: true,
            ..WriteOptions::default()
        };
        let got = read_all(file(&opts, &metas(3, [2, 6, 7]))).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[2].images, pixels(2, [2, 6, 7]));
    }
}

#[test]
fn a_truncated_file_is_an_error_naming_truncation() {
    for compressed in [true, false] {
        let opts = WriteOptions {
            compressed,
            ..WriteOptions::default()
        };
        let bytes = file(&opts, &metas(3, [3, 20, 30]));
        for cut in [bytes.len() - 10, bytes.len() / 2, 300] {
            let err = match ByraReader::new(Cursor::new(bytes[..cut].to_vec())) {
                Err(e) => e,
                Ok(r) => r
                    .collect::<Result<Vec<_>, _>>()
                    .expect_err("truncated file read"),
            };
            let msg = err.to_string();
            assert!(
                matches!(err, MatError::Truncated(_) | MatError::NoData(_)),
                "compressed {compressed}, cut {cut}: {msg}"
            );
            if cut > 300 {
                assert!(msg.contains("truncated"), "{msg}");
            }
        }
    }
}

#[test]
fn a_v73_file_says_how_to_convert_it() {
    let mut bytes = vec![0u8; 1024];
    let text =
        b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan 15 2018 HDF5 schema 1.00 .";
    bytes[..text.len()].copy_from_slice(text);
    bytes[124..128].copy_from_slice(&[0x00, 0x02, b'I', b'M']);
    bytes[512..520].copy_from_slice(b"\x89HDF\r\n\x1a\n");
    let err = ByraReader::new(Cursor::new(bytes)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, MatError::V73(_)), "{msg}");
    assert!(
        msg.contains("v7.3") && msg.contains("-v7") && msg.contains("savemat"),
        "{msg}"
    );
}

#[test]
fn wrong_struct_fields_are_listed() {
    let opts = WriteOptions {
        fields: ["id", "klass", "fat", "imgs"].map(String::from).to_vec(),
        ..WriteOptions::default()
    };
    let err = read_all(file(&opts, &metas(2, [1, 4, 4]))).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, MatError::Fields { .. }), "{msg}");
    assert!(
        msg.contains("id, klass, fat, imgs") && msg.contains("images"),
        "{msg}"
    );
}

#[test]
fn extra_fields_are_ignored_and_missing_fat_is_empty() {
    let opts = WriteOptions {
        fields: ["images", "note", "class"].map(String::from).to_vec(),
        ..WriteOptions::default()
    };
    let got = read_all(file(&opts, &metas(2, [2, 3, 4]))).unwrap();
    assert_eq!(got[1].id, "02", "the position stands in for a missing id");
    assert_eq!(got[1].fat, None);
    assert_eq!(got[1].images, pixels(1, [2, 3, 4]));
}

#[test]
fn a_bad_class_names_the_patient() {
    let mut m = metas(3, [1, 2, 2]);
    m[2].class = 2.0;
    let err = read_all(file(&WriteOptions::default(), &m)).unwrap_err();
    assert!(
        matches!(err, MatError::Patient { index: 3, .. }) && err.to_string().contains("class is 2"),
        "{err}"
    );
}

#[test]
fn not_a_mat_file() {
    let err = ByraReader::new(Cursor::new(b"file,patient\n".repeat(20))).unwrap_err();
    assert!(matches!(err, MatError::NotMat(_)), "{err}");
    let err = ByraReader::new(Cursor::new(b"tiny".to_vec())).unwrap_err();
    assert!(matches!(err, MatError::NotMat(_)), "{err}");
}

#[test]
fn images_stored_as_other_integers_are_read_as_bytes() {
    let dims = [2, 3, 4];
    let opts = WriteOptions {
        compressed: false,
        ..WriteOptions::default()
    };
    let mut bytes = file(&opts, &metas(2, dims));
    // The first patient's images: a miUINT8 element of 24 bytes; make it miINT8.
    let tag: Vec<u8> = [2u32, 24].iter().flat_map(|w| w.to_le_bytes()).collect();
    let i = bytes.windows(8).position(|w| w == tag).unwrap();
    bytes[i] = 1;
    let got = read_all(bytes.clone()).unwrap();
    assert_eq!(got[0].images, pixels(0, dims));
    bytes[i + 8] = 0xff; // -1 as int8
    let err = read_all(bytes).unwrap_err();
    assert!(err.to_string().contains("outside 0-255"), "{err}");
}

#[test]
fn sizes_beyond_the_bytes_present_are_errors() {
    let opts = WriteOptions {
        compressed: false,
        ..WriteOptions::default()
    };
    let bytes = file(&opts, &metas(2, [2, 3, 4]));
    // The first patient's images claim 2 GB; then the struct claims 2^31 patients.
    let tag: Vec<u8> = [2u32, 24].iter().flat_map(|w| w.to_le_bytes()).collect();
    let i = bytes.windows(8).position(|w| w == tag).unwrap();
    let mut b = bytes.clone();
    b[i + 4..i + 8].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    let err = read_all(b).unwrap_err().to_string();
    assert!(err.contains("2147483632 bytes"), "{err}");
    // Dimensions that agree with the claim: the bytes left in the field refuse it.
    let dims: Vec<u8> = [5u32, 12, 2, 3, 4]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    let mut b = bytes.clone();
    let d = b.windows(20).position(|w| w == dims).unwrap();
    b[d + 16..d + 20].copy_from_slice(&0x100_0000u32.to_le_bytes());
    b[i + 4..i + 8].copy_from_slice(&0x600_0000u32.to_le_bytes());
    let err = read_all(b).unwrap_err().to_string();
    assert!(
        err.contains("claims 100663296 bytes, but its enclosing element has only"),
        "{err}"
    );
    let dims: Vec<u8> = [5u32, 8, 1, 2]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    let i = bytes.windows(16).position(|w| w == dims).unwrap();
    let mut b = bytes;
    b[i + 12..i + 16].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let err = ByraReader::new(Cursor::new(b)).unwrap_err().to_string();
    assert!(err.contains("declares 2147483647 patients"), "{err}");
}
