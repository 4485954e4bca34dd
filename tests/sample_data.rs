//! sample-data/ is exactly what `vqtex synth` makes with its seed (see sample-data/README.md).

mod common;

use common::*;

#[test]
fn sample_data_regenerates_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("regen");
    let o = vqtex(&["synth", "--out", p(&out), "--seed", "2024"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data");
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 551, "550 ROIs and labels.csv");
    for name in names {
        let a = std::fs::read(out.join(&name)).unwrap();
        let b = std::fs::read(committed.join(&name))
            .unwrap_or_else(|_| panic!("sample-data/{name} is missing"));
        assert!(
            a == b,
            "sample-data/{name} differs from the generator's output"
        );
    }
}

#[test]
fn synth_refuses_a_folder_that_is_not_empty() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("keep.txt"), "mine").unwrap();
    let o = vqtex(&["synth", "--out", p(tmp.path())]);
    assert_fails_with(&o, &["is not empty"]);
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("keep.txt")).unwrap(),
        "mine"
    );
}
