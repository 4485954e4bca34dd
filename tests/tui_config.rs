//! A config that could lock the user in (no quit key, a key bound twice, a theme or config that is
//! not a small regular file) is refused before the terminal is touched, with or without one; the
//! terminal comes back after a signal.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{p, stderr};

/// Runs the binary with HOME and the XDG dirs in `home`, killing it after `secs` (a hostile file
/// must not make it hang or read forever).
fn run_in(home: &Path, mut cmd: Command, secs: u64) -> Output {
    cmd.env("HOME", home.join("home"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run vqtex");
    let t0 = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if t0.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let o = child.wait_with_output().expect("output");
            panic!("vqtex did not end within {secs} s; stderr: {}", stderr(&o));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

fn vqtex_in(home: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vqtex"));
    cmd.args(args);
    run_in(home, cmd, 60)
}

/// A temp dir with `config/vqtex/config.toml` holding `config`.
fn home_with(config: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("config").join("vqtex");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("config.toml"), config).unwrap();
    tmp
}

fn config_file(tmp: &tempfile::TempDir) -> std::path::PathBuf {
    tmp.path().join("config").join("vqtex").join("config.toml")
}

/// Failed with every needle in stderr, no panic, and not because there is no terminal (the
/// config is checked first).
fn refused(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "exit code; stderr: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("internal error"),
        "{err}"
    );
    assert!(
        !err.contains("needs a terminal"),
        "config checked too late: {err}"
    );
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
}

#[test]
fn empty_quit_is_refused_naming_the_file() {
    let tmp = home_with("[keys]\nquit = []\n");
    let file = config_file(&tmp);
    for args in [&["tui"][..], &[]] {
        let o = vqtex_in(tmp.path(), args);
        refused(&o, &[p(&file), "quit = []", "no way out"]);
    }
}

#[test]
fn a_key_bound_twice_is_refused_naming_key_and_actions() {
    let tmp = home_with("[keys]\njump = \"?\"\n");
    let o = vqtex_in(tmp.path(), &["tui"]);
    refused(&o, &[p(&config_file(&tmp)), "key '?'", "help", "jump"]);
    // Two user bindings on one Train key.
    fs::write(config_file(&tmp), "[keys]\nstart = \"g\"\nstop = \"g\"\n").unwrap();
    let o = vqtex_in(tmp.path(), &["tui"]);
    refused(&o, &["key 'g'", "start", "stop"]);
}

#[test]
fn keys_of_panes_that_never_meet_may_be_shared() {
    // Accepted: past the config, it stops only for the lack of a terminal.
    let tmp = home_with("[keys]\nprotocol = \"s\"\n");
    let o = vqtex_in(tmp.path(), &["tui"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("needs a terminal"), "{err}");
}

#[test]
fn theme_and_config_must_be_small_regular_files() {
    // The reported case: `theme = "/dev/zero"` read until out of memory.
    let tmp = home_with("theme = \"/dev/zero\"\n");
    let o = vqtex_in(tmp.path(), &["tui"]);
    refused(&o, &["/dev/zero", "not a regular file"]);
    let o = vqtex_in(tmp.path(), &["tui", "--theme", "/dev/zero"]);
    refused(&o, &["/dev/zero", "not a regular file"]);

    // A directory where the theme file should be.
    let themes = tmp.path().join("config").join("vqtex").join("themes");
    fs::create_dir_all(themes.join("mine.toml")).unwrap();
    fs::write(config_file(&tmp), "theme = \"mine\"\n").unwrap();
    let o = vqtex_in(tmp.path(), &["tui"]);
    refused(&o, &["mine.toml", "a directory"]);

    // An oversized config.
    fs::write(config_file(&tmp), "#".repeat(2 << 20)).unwrap();
    let o = vqtex_in(tmp.path(), &["tui"]);
    refused(&o, &[p(&config_file(&tmp)), "too large"]);

    // config.toml as a FIFO would block a plain open.
    fs::remove_file(config_file(&tmp)).unwrap();
    let made = Command::new("mkfifo").arg(config_file(&tmp)).status();
    if made.is_ok_and(|s| s.success()) {
        let o = vqtex_in(tmp.path(), &["tui"]);
        refused(&o, &["config.toml", "a FIFO"]);
    }
}

#[test]
fn bad_folders_are_refused_before_the_terminal() {
    let tmp = home_with("");
    let o = vqtex_in(tmp.path(), &["tui", "--data", p(&tmp.path().join("nope"))]);
    refused(&o, &["--data", "nope"]);
    let file = tmp.path().join("file");
    fs::write(&file, "x").unwrap();
    let o = vqtex_in(tmp.path(), &["tui", "--runs-dir", p(&file)]);
    refused(&o, &["--runs-dir", "is not a folder"]);
}

#[test]
fn bad_image_modes_are_refused_before_the_terminal() {
    let tmp = home_with("images = \"iterm\"\n");
    let o = vqtex_in(tmp.path(), &["tui"]);
    refused(&o, &["config.toml", "images", "'iterm'", "halfblocks"]);
    // Even with a good flag the file is checked.
    let o = vqtex_in(tmp.path(), &["tui", "--images", "halfblocks"]);
    refused(&o, &["config.toml", "'iterm'"]);
    // A bad flag is a usage error; a good one passes (to the lack of a terminal).
    let tmp = home_with("images = \"sixel\"\n");
    let o = vqtex_in(tmp.path(), &["tui", "--images", "kitty"]);
    assert!(stderr(&o).contains("needs a terminal"), "{}", stderr(&o));
    let o = vqtex_in(tmp.path(), &["tui", "--images", "iterm"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--images") && err.contains("'iterm'"), "{err}");
}

/// `script` gives the workbench a pseudo-terminal; skipped where it is missing.
fn script_available() -> bool {
    Command::new("script")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn in_pty(home: &Path, shell: &str, secs: u64) -> String {
    let mut cmd = Command::new("script");
    cmd.args(["-qec", shell, "/dev/null"])
        .env("VQTEX", env!("CARGO_BIN_EXE_vqtex"))
        .env("TERM", "xterm-256color")
        .env("COLUMNS", "100")
        .env("LINES", "30");
    let o = run_in(home, cmd, secs);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn with_a_terminal_a_bad_config_never_touches_it() {
    if !script_available() {
        eprintln!("skipped: no `script` for a pseudo-terminal");
        return;
    }
    let tmp = home_with("[keys]\nquit = []\n");
    let out = in_pty(
        tmp.path(),
        "stty cols 100 rows 30; \"$VQTEX\" tui; echo \"rc=$?\"",
        60,
    );
    assert!(out.contains("quit = []") && out.contains("rc=1"), "{out}");
    // Neither the alternate screen nor a hidden cursor: the terminal was left alone.
    assert!(!out.contains("\u{1b}[?1049h"), "{out:?}");
    assert!(!out.contains("\u{1b}[?25l"), "{out:?}");
}

#[test]
fn sigterm_gives_the_terminal_back() {
    if !script_available() {
        eprintln!("skipped: no `script` for a pseudo-terminal");
        return;
    }
    let tmp = home_with("");
    let out = in_pty(
        tmp.path(),
        "stty cols 100 rows 30; \"$VQTEX\" tui </dev/tty & pid=$!; sleep 4; kill -TERM $pid; \
         wait $pid; echo \"rc=$?\"; stty -a",
        60,
    );
    let entered = out
        .find("\u{1b}[?1049h")
        .unwrap_or_else(|| panic!("never started: {out:?}"));
    let left = out.rfind("\u{1b}[?1049l").unwrap_or(0);
    assert!(left > entered, "the alternate screen was not left: {out:?}");
    assert!(
        out.contains("stopped by SIGTERM") && out.contains("rc=1"),
        "{out}"
    );
    let stty = &out[out.rfind("rc=").unwrap_or(0)..];
    let flags: Vec<&str> = stty.split_whitespace().collect();
    for f in ["icanon", "echo", "isig"] {
        assert!(
            flags.contains(&f),
            "{f} is off after exit (raw mode left on): {stty}"
        );
    }
}
