//! B-mode frames from DICOM files (dicom-object + dicom-pixeldata, pure Rust codecs): single and
//! multi-frame, MONOCHROME1/2, RGB and YBR converted to 8-bit gray.

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

fn gray(r: u8, g: u8, b: u8) -> u8 {
    (0.299 * r as f64 + 0.587 * g as f64 + 0.114 * b as f64)
        .round()
        .clamp(0.0, 255.0) as u8
}

/// Reads every frame of a DICOM file as 8-bit gray.
pub fn read_dicom(path: &Path) -> Result<DicomFrames, DataError> {
    let bad = |message: String| DataError::Dicom {
        path: path.to_path_buf(),
        message,
    };
    let obj = open_file(path).map_err(|e| bad(e.to_string()))?;
    let patient_id = obj
        .element(tags::PATIENT_ID)
        .ok()
        .and_then(|e| e.to_str().ok().map(|s| s.trim().to_string()))
        .filter(|s| !s.is_empty());
    let px = obj
        .decode_pixel_data()
        .map_err(|e| bad(format!("pixel data: {e}")))?;
    let (w, h) = (px.columns(), px.rows());
    let n = (w * h) as usize;
    let spp = px.samples_per_pixel();
    let pi = px.photometric_interpretation().clone();
    let planar = px.planar_configuration() == PlanarConfiguration::PixelFirst;
    let mut frames = Vec::new();
    for f in 0..px.number_of_frames() {
        let frame_err = |e: dicom_pixeldata::Error| bad(format!("frame {f}: {e}"));
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
