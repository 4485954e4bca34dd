//! The command line as the README shows it: the workbench's options without `tui`, `watch` by a
//! run's name, help texts that name only real options, and "keep training" handing the run to a
//! background process.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{small_dataset, stderr, stdout};

/// The binary with its data dir (the default runs folder, the log) inside `home`, no terminal.
fn vqtex_in(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vqtex"))
        .args(args)
        .env("HOME", home.join("home"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run vqtex")
}

/// Refused only for the lack of a terminal: everything before it (the options) was accepted.
fn only_the_terminal_is_missing(o: &Output) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("needs a terminal"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn the_workbench_s_options_work_without_the_tui_command() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_dataset(&tmp.path().join("rois"), 2, 2, 2);
    let data = data.to_str().unwrap();
    only_the_terminal_is_missing(&vqtex_in(tmp.path(), &["--theme", "light"]));
    only_the_terminal_is_missing(&vqtex_in(tmp.path(), &["--data", data]));
    only_the_terminal_is_missing(&vqtex_in(
        tmp.path(),
        &["--data", data, "--theme", "dark", "--runs-dir", "/tmp"],
    ));
    only_the_terminal_is_missing(&vqtex_in(tmp.path(), &["tui", "--theme", "light"]));
    // The options reach the workbench: a bad one is reported as such.
    let o = vqtex_in(tmp.path(), &["--theme", "no-such-theme"]);
    assert!(
        stderr(&o).contains("no-such-theme") && !stderr(&o).contains("unexpected argument"),
        "{}",
        stderr(&o)
    );
    let o = vqtex_in(tmp.path(), &["--data", "/no/such/folder"]);
    assert!(stderr(&o).contains("/no/such/folder"), "{}", stderr(&o));
    // They belong to the workbench, not to a command given after them.
    let o = vqtex_in(tmp.path(), &["--theme", "light", "runs"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn watch_finds_a_run_by_name_in_the_runs_folder_or_lists_near_names() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_dataset(&tmp.path().join("rois"), 2, 2, 2);
    // `train` without --runs-dir puts its runs in the default runs folder, in the data dir.
    let runs = tmp.path().join("data").join("vqtex").join("runs");
    let run = runs.join("vqvae-mine");
    let o = vqtex_in(
        tmp.path(),
        &[
            "train",
            "--data",
            data.to_str().unwrap(),
            "--epochs",
            "1",
            "--run",
            run.to_str().unwrap(),
            "-q",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // By name, in the default runs folder and in --runs-dir; by path, as before.
    only_the_terminal_is_missing(&vqtex_in(tmp.path(), &["watch", "vqvae-mine"]));
    let other = tempfile::tempdir().unwrap();
    only_the_terminal_is_missing(&vqtex_in(
        other.path(),
        &["watch", "vqvae-mine", "--runs-dir", runs.to_str().unwrap()],
    ));
    only_the_terminal_is_missing(&vqtex_in(other.path(), &["watch", run.to_str().unwrap()]));
    // A near name: the error lists the runs it may mean.
    let o = vqtex_in(tmp.path(), &["watch", "vqvae-min"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no run vqvae-min") && err.contains("near name") && err.contains("vqvae-mine"),
        "{err}"
    );
    // No runs at all: said so, with the folder looked in.
    let o = vqtex_in(other.path(), &["watch", "vqvae-mine"]);
    let err = stderr(&o);
    assert!(
        err.contains("no run vqvae-mine") && err.contains("holds no runs"),
        "{err}"
    );
    // A folder that exists but is not a run is still named as such.
    let o = vqtex_in(tmp.path(), &["watch", tmp.path().to_str().unwrap()]);
    assert!(stderr(&o).contains("is not a vqtex run"), "{}", stderr(&o));
}

/// The options a help text defines, and every `--option` its descriptions mention.
fn options_of(help: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let word = regex::Regex::new(r"--[a-z][a-z0-9-]*").unwrap();
    let mut defined = BTreeSet::new();
    let mut mentioned = BTreeSet::new();
    let mut listing = false;
    for line in help.lines() {
        // A command group's list of its commands describes their options, not its own.
        if !line.starts_with(' ') {
            listing = line.starts_with("Commands:");
        }
        if listing {
            continue;
        }
        let t = line.trim_start();
        let (head, text) = if t.starts_with('-') && line.starts_with("  ") {
            // `  -q, --quiet  Print ...`: the option, then its description.
            let split = t.find("  ").unwrap_or(t.len());
            (&t[..split], &t[split..])
        } else {
            ("", t)
        };
        defined.extend(word.find_iter(head).map(|m| m.as_str().to_string()));
        mentioned.extend(word.find_iter(text).map(|m| m.as_str().to_string()));
    }
    (defined, mentioned)
}

#[test]
fn every_command_s_help_mentions_only_options_it_has() {
    let top = stdout(&common::vqtex(&["--help"]));
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() > 10, "{top}");
    let mut checked = 0;
    let mut problems = Vec::new();
    let mut queue: Vec<Vec<String>> = commands.iter().map(|c| vec![c.clone()]).collect();
    // A command's description may name another command's options: `vqtex train --resume`.
    let quoted = regex::Regex::new(r"`vqtex [^`]*`").unwrap();
    let option = regex::Regex::new(r"--[a-z][a-z0-9-]*").unwrap();
    while let Some(path) = queue.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let help = stdout(&common::vqtex(&args));
        // Subcommands of a command group (import, roi, export).
        if path.len() == 1 && help.contains("\nCommands:") {
            for l in help
                .lines()
                .skip_while(|l| !l.starts_with("Commands:"))
                .skip(1)
                .take_while(|l| l.starts_with("  "))
            {
                let sub = l.split_whitespace().next().unwrap_or_default();
                if sub != "help" {
                    queue.push(vec![path[0].clone(), sub.to_string()]);
                }
            }
        }
        let (defined, mentioned) = options_of(&help);
        let elsewhere: BTreeSet<String> = quoted
            .find_iter(&help)
            .flat_map(|m| {
                option
                    .find_iter(m.as_str())
                    .map(|o| o.as_str().to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        for m in mentioned.difference(&defined) {
            if !elsewhere.contains(m) {
                problems.push(format!("vqtex {} --help mentions {m}", path.join(" ")));
            }
        }
        checked += 1;
    }
    assert!(checked > commands.len(), "{checked}");
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn keep_training_hands_the_run_to_a_background_process_that_finishes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_dataset(&tmp.path().join("rois"), 3, 3, 4);
    let run = tmp.path().join("vqvae-bg");
    let o = vqtex_in(
        tmp.path(),
        &[
            "train",
            "--data",
            data.to_str().unwrap(),
            "--epochs",
            "1",
            "--run",
            run.to_str().unwrap(),
            "-q",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // As if stopped after its first epoch of 6.
    let config = run.join("config.json");
    let mut c: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    c["train"]["epochs"] = 6.into();
    std::fs::write(&config, serde_json::to_vec_pretty(&c).unwrap()).unwrap();

    let exe = Path::new(env!("CARGO_BIN_EXE_vqtex"));
    let pid = vqtex::tui::resume_detached(&run, exe, "cpu")
        .unwrap()
        .expect("something left to train");
    assert_ne!(pid, std::process::id());
    let t0 = Instant::now();
    loop {
        let s = vqtex::runs::summarize(&run).unwrap();
        if s.status == vqtex::train::RunStatus::Finished {
            assert_eq!(s.epoch, 6, "it went on from epoch 1 to the end");
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "still {:?} at epoch {}",
            s.status,
            s.epoch
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(run.join(vqtex::tui::DETACHED_LOG).is_file());
    // A finished run is not handed over again.
    assert_eq!(vqtex::tui::resume_detached(&run, exe, "cpu").unwrap(), None);
}
