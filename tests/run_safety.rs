//! One writer per run, resume semantics, exit codes and crash consistency, through the binary.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use vqtex::runs::StepImages;
use vqtex::train::{checkpoint, RunDir, RunLock};

fn data(tmp: &Path) -> PathBuf {
    small_dataset(&tmp.join("data"), 2, 3, 4)
}

fn train(data: &Path, run: &Path, epochs: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "train",
        "--data",
        p(data),
        "--run",
        p(run),
        "--epochs",
        epochs,
        "--seed",
        "3",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    vqtex(&args)
}

fn epochs_in_config(run: &Path) -> u64 {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("config.json")).unwrap()).unwrap();
    v["train"]["epochs"].as_u64().unwrap()
}

/// Every file of a folder with its bytes, sorted (lock file aside: it names the last holder).
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().unwrap() != "run.lock" {
                let bytes = std::fs::read(&path).unwrap();
                out.push((path, bytes));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_second_writer_is_refused_naming_the_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data(tmp.path());
    let run = tmp.path().join("run");
    assert!(train(&data, &run, "1", &[]).status.success());
    let before = snapshot(&run);
    // This process holds the run as a training would.
    let lock = RunLock::acquire(&run).unwrap();
    let pid = format!("pid {}", std::process::id());
    let o = vqtex(&["train", "--resume", p(&run), "--epochs", "3"]);
    assert_fails_with(&o, &["being written by another process", &pid]);
    // A new run in a folder another process has claimed is refused too.
    let fresh = tmp.path().join("fresh");
    std::fs::create_dir(&fresh).unwrap();
    let other = RunLock::acquire(&fresh).unwrap();
    assert_fails_with(&train(&data, &fresh, "1", &[]), &["being written", &pid]);
    assert!(!fresh.join("config.json").exists(), "nothing written");
    assert_eq!(snapshot(&run), before, "the held run was not touched");
    // Listing says running while the lock is held, and not once it is free.
    assert!(matches!(
        RunDir::new(&run).status(&RunDir::new(&run).read_config().unwrap()),
        vqtex::train::RunStatus::Running(_)
    ));
    drop((lock, other));
    let cfg = RunDir::new(&run).read_config().unwrap();
    assert_eq!(RunDir::new(&run).status(&cfg).as_str(), "finished");
}

#[test]
fn two_new_trainings_into_one_folder_never_both_write_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data(tmp.path());
    let run = tmp.path().join("run");
    let spawn = |seed: &str| {
        Command::new(env!("CARGO_BIN_EXE_vqtex"))
            .args([
                "train",
                "--data",
                p(&data),
                "--run",
                p(&run),
                "--epochs",
                "2",
            ])
            .args(["--seed", seed, "--quiet"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("1"), spawn("2"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let ok = [a.status.success(), b.status.success()];
    assert_eq!(
        ok.iter().filter(|&&s| s).count(),
        1,
        "exactly one wins: {} / {}",
        stderr(&a),
        stderr(&b)
    );
    let loser = if ok[0] { &b } else { &a };
    let err = stderr(loser);
    assert!(
        err.contains("being written by another process") || err.contains("already holds a run"),
        "{err}"
    );
    let seed = RunDir::new(&run).read_config().unwrap().train.seed;
    assert_eq!(
        seed,
        if ok[0] { 1 } else { 2 },
        "the config is the winner's"
    );
}

#[test]
fn resume_continues_to_the_configured_epochs_and_a_finished_run_is_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data(tmp.path());
    let run = tmp.path().join("run");
    assert!(train(&data, &run, "2", &[]).status.success());
    let before = snapshot(&run);

    // Finished: says so, exits 0, changes nothing.
    let o = vqtex(&["train", "--resume", p(&run)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("is finished") && out.contains("--epochs"),
        "{out}"
    );
    assert!(!out.contains("run saved"), "{out}");
    assert_eq!(snapshot(&run), before, "a finished run is left as it was");

    // Fewer epochs than trained: refused.
    assert_fails_with(
        &vqtex(&["train", "--resume", p(&run), "--epochs", "1"]),
        &["below the 2 epochs"],
    );

    // Extending: config.json follows, and the finished run's last checkpoint is never pruned.
    let o = vqtex(&["train", "--resume", p(&run), "--epochs", "5", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(epochs_in_config(&run), 5);
    let ckpts = checkpoint::list(&run.join("checkpoints"));
    assert!(ckpts.contains(&2), "epoch 2 (final then) kept: {ckpts:?}");
    assert_eq!(ckpts.last(), Some(&5));
}

#[test]
fn an_interrupted_run_resumes_without_epochs_to_its_own_target() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data(tmp.path());
    let run = tmp.path().join("run");
    assert!(train(&data, &run, "2", &[]).status.success());
    // As if it had been started for 4 epochs and killed after 2.
    let mut cfg = RunDir::new(&run).read_config().unwrap();
    cfg.train.epochs = 4;
    RunDir::new(&run).write_config(&cfg).unwrap();
    let o = vqtex(&["train", "--resume", p(&run), "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(checkpoint::list(&run.join("checkpoints")).last(), Some(&4));
    assert_eq!(epochs_in_config(&run), 4);
}

#[test]
fn a_run_killed_before_its_first_checkpoint_can_be_started_again_or_resumed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data(tmp.path());
    // Two runs that have their config but no checkpoint, as a kill during epoch 1 leaves them.
    let mk = |name: &str| {
        let run = tmp.path().join(name);
        assert!(train(&data, &run, "1", &[]).status.success());
        std::fs::remove_dir_all(run.join("checkpoints")).unwrap();
        std::fs::create_dir(run.join("checkpoints")).unwrap();
        std::fs::write(run.join("checkpoints/.epoch-0001.safetensors.tmp"), b"half").unwrap();
        run
    };
    let again = mk("again");
    let o = train(&data, &again, "2", &[]);
    assert!(o.status.success(), "same command again: {}", stderr(&o));
    assert_eq!(checkpoint::list(&again.join("checkpoints")), vec![1, 2]);
    assert!(!again
        .join("checkpoints/.epoch-0001.safetensors.tmp")
        .exists());

    let resumed = mk("resumed");
    let o = vqtex(&["train", "--resume", p(&resumed), "--quiet"]);
    assert!(o.status.success(), "resume from epoch 1: {}", stderr(&o));
    assert_eq!(checkpoint::list(&resumed.join("checkpoints")), vec![1]);
    let log = std::fs::read_to_string(resumed.join("metrics.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 1, "one epoch logged once: {log}");
}

#[test]
fn a_run_whose_config_was_edited_out_of_bounds_is_refused_with_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data(tmp.path());
    let run = tmp.path().join("run");
    assert!(train(&data, &run, "1", &[]).status.success());
    let text = std::fs::read_to_string(run.join("config.json")).unwrap();
    for (from, to, needle) in [
        ("\"batch\": 64", "\"batch\": 0", "--batch"),
        (
            "\"checkpoint_every\": 1",
            "\"checkpoint_every\": 0",
            "checkpoint_every",
        ),
        ("\"hidden\": 64", "\"hidden\": 1000000000", "hidden"),
        (
            "\"codebook_size\": 64",
            "\"codebook_size\": 100000000",
            "codebook_size",
        ),
    ] {
        assert!(text.contains(from), "{from} not in {text}");
        std::fs::write(run.join("config.json"), text.replace(from, to)).unwrap();
        for args in [
            vec!["train", "--resume", p(&run), "--epochs", "3"],
            vec!["eval", p(&run)],
        ] {
            let o = vqtex(&args);
            assert_fails_with(&o, &[needle]);
            assert!(!stdout(&o).contains("run saved"));
        }
    }
}

/// The final weights of a run, as numbers (file bytes depend on nothing else, but compare values).
fn final_weights(run: &Path) -> Vec<(String, Vec<f32>)> {
    let dir = run.join("checkpoints");
    let last = *checkpoint::list(&dir).last().expect("a checkpoint");
    let loaded = checkpoint::load_epoch(&dir, last, &candle_core::Device::Cpu).unwrap();
    let mut out: Vec<(String, Vec<f32>)> = loaded
        .tensors
        .iter()
        .map(|(k, t)| {
            (
                k.clone(),
                t.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Epochs logged so far in `run` (0 when there is no log yet).
fn logged(run: &Path) -> usize {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .map(|t| t.lines().filter(|l| l.ends_with('}')).count())
        .unwrap_or(0)
}

#[test]
fn killed_at_random_moments_and_resumed_gives_the_uninterrupted_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data(tmp.path());
    let epochs = 30;
    let straight = tmp.path().join("straight");
    assert!(train(&data, &straight, &epochs.to_string(), &[])
        .status
        .success());

    let run = tmp.path().join("killed");
    // A fixed sequence of "random" moments (the same every test run): each training is killed
    // (SIGKILL) a random 0-40 ms after its log has grown by a random 1-4 epochs, so kills land
    // before the first checkpoint, between epochs and in the middle of checkpoint writes.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let mut kills = 0;
    for attempt in 0..6 {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vqtex"));
        if attempt == 0 {
            cmd.args(["train", "--data", p(&data), "--run", p(&run)])
                .args(["--epochs", &epochs.to_string(), "--seed", "3", "--quiet"]);
        } else {
            cmd.args(["train", "--resume", p(&run), "--quiet"]);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The first training dies before it logs anything.
        let target = if attempt == 0 {
            0
        } else {
            logged(&run) + 1 + next(4) as usize
        };
        let t0 = Instant::now();
        while logged(&run) < target
            && child.try_wait().unwrap().is_none()
            && t0.elapsed() < Duration::from_secs(60)
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(next(40)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert!(kills >= 4, "only {kills} kills landed: the test must kill");
    assert!(logged(&run) < epochs, "the kills stopped it part way");
    let o = vqtex(&["train", "--resume", p(&run), "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cfg = RunDir::new(&run).read_config().unwrap();
    assert_eq!(RunDir::new(&run).status(&cfg).as_str(), "finished");
    let (a, b) = (final_weights(&straight), final_weights(&run));
    assert_eq!(a.len(), b.len());
    for ((na, va), (nb, vb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        assert!(va == vb, "{na} differs after kills and resumes");
    }
    // The images of every epoch too: one record an epoch, the same as without the kills.
    let (a, b) = (steps(&straight), steps(&run));
    assert_eq!(a.epochs(), (1..=epochs as u32).collect::<Vec<_>>());
    assert_eq!(b.epochs(), a.epochs(), "one record an epoch after kills");
    assert_eq!(a.rois(), b.rois());
    for e in a.epochs() {
        assert!(a.at(e).unwrap() == b.at(e).unwrap(), "epoch {e}'s images");
    }
}

fn steps(run: &Path) -> StepImages {
    StepImages::open(run)
        .unwrap()
        .expect("the run kept its step images")
}

#[test]
fn train_keeps_the_fixed_rois_images_of_every_epoch_and_resume_continues_them() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data(tmp.path());
    let run = tmp.path().join("run");
    assert!(train(&data, &run, "2", &[]).status.success());
    let s = steps(&run);
    assert_eq!(s.epochs(), vec![1, 2]);
    // 2 healthy and 2 steatotic test ROIs when the test side has both, their originals stored.
    let ds = vqtex::data::load_folder(&data, &Default::default()).unwrap();
    assert!(!s.rois().is_empty() && s.rois().len() <= 4);
    for r in s.rois() {
        let roi = ds.rois.iter().find(|x| x.file == r.name).unwrap();
        assert_eq!((roi.label, roi.pixels.as_slice()), (r.label, &r.pixels[..]));
    }
    let names: usize = s.rois().iter().map(|r| r.name.len()).sum();
    let size = std::fs::metadata(run.join("steps.bin")).unwrap().len();
    assert_eq!(
        size,
        vqtex::train::steps::file_size(s.rois().len(), names, 2)
    );
    let (one, two) = (s.at(1).unwrap().unwrap(), s.at(2).unwrap().unwrap());
    assert_eq!(one.len(), s.rois().len());
    assert_ne!(one, two, "the model changed between epochs");

    let o = vqtex(&["train", "--resume", p(&run), "--epochs", "3", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = steps(&run);
    assert_eq!(s.epochs(), vec![1, 2, 3]);
    assert_eq!(
        s.at(2).unwrap().unwrap(),
        two,
        "earlier epochs kept as they were"
    );
}

#[test]
fn runs_lists_runs_newest_first_with_status_from_the_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data(tmp.path());
    let runs = tmp.path().join("runs");
    let (a, b) = (runs.join("a-older"), runs.join("b-newer"));
    assert!(train(&data, &a, "1", &[]).status.success());
    assert!(train(&data, &b, "2", &[]).status.success());
    // Creation times a second apart at least, whatever the clock did.
    let mut cfg = RunDir::new(&a).read_config().unwrap();
    cfg.created = "2020-01-01T00:00:00Z".into();
    RunDir::new(&a).write_config(&cfg).unwrap();
    std::fs::create_dir(runs.join("not-a-run")).unwrap();
    let _held = RunLock::acquire(&a).unwrap();
    let o = vqtex(&["runs", "--runs-dir", p(&runs), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let list = v.as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["b-newer", "a-older"]);
    assert_eq!(list[0]["status"], "finished");
    assert_eq!(list[0]["epochs"], 2);
    assert_eq!(list[0]["model"], "vqvae");
    assert_eq!(list[1]["status"], "running");
    assert_eq!(list[1]["holder"]["pid"], std::process::id());
    let o = vqtex(&["runs", "--runs-dir", p(&runs)]);
    let text = stdout(&o);
    assert!(text.starts_with("run "), "{text}");
    assert!(
        text.contains("b-newer") && text.contains("running"),
        "{text}"
    );
}

#[test]
fn train_eval_classify_and_traverse_write_only_inside_the_run_or_their_output() {
    let tmp = tempfile::tempdir().unwrap();
    // Enough patients for the SVMs' protocols on the test side.
    let data = small_dataset(&tmp.path().join("data"), 10, 10, 3);
    let runs = tmp.path().join("runs");
    std::fs::create_dir(&runs).unwrap();
    std::fs::write(runs.join("neighbour.txt"), b"keep me").unwrap();
    let before = snapshot(tmp.path());
    let run = runs.join("r");
    assert!(train(&data, &run, "2", &[]).status.success());
    let out = tmp.path().join("t.png");
    for args in [
        vec!["eval", p(&run), "--json"],
        vec!["classify", p(&run), "--protocol", "lopo", "--json"],
        vec!["traverse", p(&run), "--dim", "0", "--out", p(&out)],
    ] {
        let o = vqtex(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    let after: Vec<(PathBuf, Vec<u8>)> = snapshot(tmp.path())
        .into_iter()
        .filter(|(path, _)| !path.starts_with(&run) && path != &out)
        .collect();
    assert_eq!(after, before, "nothing outside the run and --out changed");
    assert!(run.join("eval/summary.json").is_file());
}

#[test]
fn an_unreadable_checkpoints_folder_is_an_error_never_an_empty_run_to_start_over() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data(tmp.path());
    let run = tmp.path().join("run");
    assert!(train(&data, &run, "2", &[]).status.success());
    // The checkpoints folder replaced by a file: unreadable as a folder.
    std::fs::rename(run.join("checkpoints"), tmp.path().join("moved")).unwrap();
    std::fs::write(run.join("checkpoints"), b"not a folder").unwrap();
    let before = snapshot(&run);
    for o in [
        vqtex(&["train", "--resume", p(&run), "--epochs", "3"]),
        train(&data, &run, "2", &[]),
    ] {
        assert_fails_with(&o, &["checkpoints"]);
    }
    assert_eq!(snapshot(&run), before, "the log and config are kept");
}
