//! Containment: a file named by a CSV is read only from inside its folder, and a command writes only
//! inside its output folder, under names it made itself.
//!
//! A name read from a CSV must be relative, without `..`, a root or a drive; once symbolic links are
//! followed it must still lead inside the folder, unless the user allowed links for reading
//! (`--allow-links`). Output names are never taken raw from input: [`out_name`] derives a plain file
//! name, and [`check_out_name`] refuses anything else at the moment of writing.

use std::path::{Component, Path, PathBuf};

use super::DataError;

/// Why a file name read from a CSV may not be used, if it may not: an absolute path, a drive or
/// root, a `..` component (with `/` or `\` as separator) or a NUL byte.
pub fn check_relative(name: &str) -> Result<(), String> {
    if name.contains('\0') {
        return Err(format!(
            "file name '{}' holds a NUL byte",
            name.escape_debug()
        ));
    }
    let p = Path::new(name);
    if p.is_absolute()
        || p.has_root()
        || name.starts_with(['/', '\\'])
        || p.components()
            .any(|c| matches!(c, Component::Prefix(_) | Component::RootDir))
    {
        return Err(format!(
            "'{name}' is an absolute path: name a file inside the folder, relative to it"
        ));
    }
    if name.split(['/', '\\']).any(|c| c == "..") {
        return Err(format!(
            "'{name}' leads out of the folder: '..' is not allowed in file names"
        ));
    }
    Ok(())
}

/// Where a name of a CSV leads, once checked with [`check_relative`] and symbolic links followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// Inside the folder (or outside through a link the user allowed): the real path.
    Inside(PathBuf),
    /// Nothing there (or a dangling link).
    Missing,
}

/// Resolves `name`, read from a CSV, inside the folder whose canonical path is `dir_canon`. A name
/// that leaves the folder is an error; so is one that leads out through a symbolic link unless
/// `allow_links`. `link_hint` says what the user can do about a link.
pub fn resolve(
    dir_canon: &Path,
    name: &str,
    allow_links: bool,
    link_hint: &str,
) -> Result<Resolved, String> {
    check_relative(name)?;
    match dir_canon.join(name).canonicalize() {
        Ok(target) if target.starts_with(dir_canon) || allow_links => Ok(Resolved::Inside(target)),
        Ok(target) => Err(format!(
            "'{name}' is a symbolic link leading out of {} (to {}); {link_hint}",
            dir_canon.display(),
            target.display()
        )),
        Err(_) => Ok(Resolved::Missing),
    }
}

/// The canonical path of an input folder, or an error naming it.
pub fn canonical_dir(dir: &Path) -> Result<PathBuf, DataError> {
    dir.canonicalize().map_err(|source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    })
}

/// A plain `.png` file name derived from an input name: path separators and every character other
/// than ASCII letters, digits, `-`, `_` and `.` become `_`, and a leading `.` becomes `_`.
/// `a.png` stays `a.png`; `sub/a.png` becomes `sub_a.png`; `../v.png` becomes `.._v.png` → `_._v.png`.
pub fn out_name(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        s.push_str("roi");
    }
    if s.starts_with('.') {
        s.replace_range(0..1, "_");
    }
    if !s.to_ascii_lowercase().ends_with(".png") {
        s.push_str(".png");
    }
    s
}

/// Why `name` may not be written into an output folder, if it may not: it must be one plain file
/// name (no separator, not `.` or `..`, not hidden) and not `reserved` (a file the command writes
/// itself, e.g. `labels.csv`).
pub fn check_out_name(name: &str, reserved: &[&str]) -> Result<(), String> {
    if name.is_empty()
        || name.contains(['/', '\\', '\0'])
        || name.starts_with('.')
        || Path::new(name).components().count() != 1
        || !matches!(
            Path::new(name).components().next(),
            Some(Component::Normal(_))
        )
    {
        return Err(format!(
            "refusing to write '{}': an output file name must be one plain name, without \
             separators, '..' or a leading '.'",
            name.escape_debug()
        ));
    }
    if reserved.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(format!(
            "refusing to write '{name}': the command writes that file itself"
        ));
    }
    Ok(())
}

/// `path` made absolute and free of `.`, `..` and symbolic links as far as it exists: the longest
/// existing prefix is canonicalised and the rest appended (`..` in the rest pops a component).
pub fn resolved_as_far_as_it_exists(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("."))
            .join(path)
    };
    let parts: Vec<Component> = abs.components().collect();
    for k in (1..=parts.len()).rev() {
        let prefix: PathBuf = parts[..k].iter().collect();
        if let Ok(mut out) = prefix.canonicalize() {
            for part in &parts[k..] {
                match part {
                    Component::ParentDir => {
                        out.pop();
                    }
                    Component::Normal(n) => out.push(n),
                    _ => {}
                }
            }
            return out;
        }
    }
    abs
}

/// Refuses an output folder that is the input folder, lies inside it, or holds it: a command's
/// writes must never land among its inputs.
pub fn check_apart(out: &Path, input: &Path) -> Result<(), DataError> {
    let o = resolved_as_far_as_it_exists(out);
    let i = resolved_as_far_as_it_exists(input);
    let message = if o == i {
        Some(format!(
            "is the input folder {}: choose another output folder (nothing was written)",
            input.display()
        ))
    } else if o.starts_with(&i) {
        Some(format!(
            "lies inside the input folder {}: choose an output folder outside it (nothing was written)",
            input.display()
        ))
    } else if i.starts_with(&o) {
        Some(format!(
            "holds the input folder {}: choose an output folder outside it (nothing was written)",
            input.display()
        ))
    } else {
        None
    };
    match message {
        Some(message) => Err(DataError::Unsafe {
            path: out.to_path_buf(),
            message,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_names_pass_and_escapes_do_not() {
        for ok in ["a.png", "sub/a.png", "./a.png", "a..b.png", "..a.png"] {
            assert!(check_relative(ok).is_ok(), "{ok}");
        }
        for bad in [
            "../v.png",
            "sub/../../v.png",
            "..",
            "..\\v.png",
            "/etc/passwd",
            "\\share\\v.png",
            "a\0b",
        ] {
            assert!(check_relative(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn out_names_are_plain() {
        assert_eq!(out_name("p01_f0.png"), "p01_f0.png");
        assert_eq!(out_name("sub/a.PNG"), "sub_a.PNG");
        assert_eq!(out_name("../victim/v.png"), "_._victim_v.png");
        assert_eq!(out_name("/abs/v.png"), "_abs_v.png");
        assert_eq!(out_name("labels.csv"), "labels.csv.png");
        for n in [
            "p01_f0.png",
            "../victim/v.png",
            "/abs/v",
            "",
            ".hidden",
            "a b/c",
        ] {
            assert!(check_out_name(&out_name(n), &["labels.csv"]).is_ok(), "{n}");
        }
        for bad in [
            "../v.png",
            "a/b.png",
            ".x.png",
            "..",
            ".",
            "",
            "labels.csv",
            "LABELS.CSV",
        ] {
            assert!(check_out_name(bad, &["labels.csv"]).is_err(), "{bad}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn links_out_are_refused_unless_allowed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(tmp.path().join("v.png"), b"victim").unwrap();
        std::fs::write(dir.join("a.png"), b"a").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("v.png"), dir.join("out.png")).unwrap();
        std::os::unix::fs::symlink(dir.join("a.png"), dir.join("sub/in.png")).unwrap();
        let c = dir.canonicalize().unwrap();
        assert_eq!(
            resolve(&c, "sub/in.png", false, "").unwrap(),
            Resolved::Inside(c.join("a.png"))
        );
        assert_eq!(
            resolve(&c, "nope.png", false, "").unwrap(),
            Resolved::Missing
        );
        let e = resolve(&c, "out.png", false, "pass --allow-links").unwrap_err();
        assert!(
            e.contains("symbolic link leading out") && e.contains("--allow-links"),
            "{e}"
        );
        assert!(matches!(
            resolve(&c, "out.png", true, "").unwrap(),
            Resolved::Inside(_)
        ));
        assert!(
            resolve(&c, "../v.png", true, "").is_err(),
            "'..' even with links"
        );
    }

    #[test]
    fn output_must_be_apart_from_input() {
        let tmp = tempfile::tempdir().unwrap();
        let input = tmp.path().join("frames");
        std::fs::create_dir(&input).unwrap();
        assert!(check_apart(&tmp.path().join("rois"), &input).is_ok());
        assert!(check_apart(&tmp.path().join("frames-rois"), &input).is_ok());
        let e = check_apart(&input, &input).unwrap_err().to_string();
        assert!(e.contains("is the input folder"), "{e}");
        let e = check_apart(&input.join("new/rois"), &input)
            .unwrap_err()
            .to_string();
        assert!(e.contains("inside the input folder"), "{e}");
        let e = check_apart(&input.join("x/../.."), &input.join("a"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("the input folder"), "{e}");
        let e = check_apart(tmp.path(), &input).unwrap_err().to_string();
        assert!(e.contains("holds the input folder"), "{e}");
    }
}
