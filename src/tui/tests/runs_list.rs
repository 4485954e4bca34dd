//! The Runs list on real runs: status from the run's lock (running, stopped part of the way,
//! finished), newest first, the test MSE once Reconstructions or Compare evaluated a run, the
//! created time whole at every size, and the newest run opened at start.

use super::app::{app, screen};
use super::jobs::train;
use super::run_jobs;
use crate::data::folder::write_folder;
use crate::data::synth::{generate, SynthConfig};
use crate::train::RunStatus;
use crate::tui::app::Pane;
use crate::tui::jobs::Request;
use crate::tui::panes::runs::created_compact;

#[test]
fn runs_are_listed_newest_first_with_lock_status_test_mse_and_the_newest_opened() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, runs) = (tmp.path().join("data"), tmp.path().join("runs"));
    let rois = generate(&SynthConfig {
        seed: 5,
        healthy: 10,
        steatotic: 10,
        frames: 3,
    });
    write_folder(&data, &rois).unwrap();
    let vq = train("vqvae", "0", &data, &runs);
    let cae = train("cae", "0", &data, &runs);

    let (mut app, _rx) = app();
    app.runs_dir = runs.clone();
    app.runs.dir = runs.clone();
    // At start, with no run given: the newest run is opened once the runs are listed.
    app.open_newest = true;
    app.request(Request::ListRuns(runs.clone()));
    run_jobs(&mut app);
    let names: Vec<&str> = app.runs.runs.iter().map(|r| r.name.as_str()).collect();
    assert!(
        names[0].starts_with("cae-") && names[1].starts_with("vqvae-"),
        "newest first: {names:?}"
    );
    assert_eq!(app.runs.open.as_ref(), Some(&cae), "the newest is open");
    assert!(!app.open_newest, "only at start");
    assert!(app
        .runs
        .runs
        .iter()
        .all(|r| r.status == RunStatus::Finished));
    assert!(app.runs.runs.iter().all(|r| r.test_mse.is_none()));

    // Reconstructions evaluate the vqvae run, Compare the cae run: the list shows both MSEs.
    app.request(Request::Recon {
        run: vq.clone(),
        pick: 0,
    });
    app.request(Request::Compare {
        runs: vec![cae.clone()],
    });
    run_jobs(&mut app);
    app.request(Request::ListRuns(runs.clone()));
    run_jobs(&mut app);
    for r in &app.runs.runs {
        let mse = r
            .test_mse
            .unwrap_or_else(|| panic!("{} has no test MSE", r.name));
        assert!(mse.is_finite() && mse > 0.0, "{}: {mse}", r.name);
    }

    // Held by a process: running; not held and short of its epochs: stopped, at its last epoch.
    let lock = crate::train::RunLock::acquire(&cae).unwrap();
    let config = vq.join("config.json");
    let mut c: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    c["train"]["epochs"] = 5.into();
    std::fs::write(&config, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    app.request(Request::ListRuns(runs.clone()));
    run_jobs(&mut app);
    let status: Vec<(&str, usize, usize)> = app
        .runs
        .runs
        .iter()
        .map(|r| (r.status.as_str(), r.epoch, r.epochs))
        .collect();
    assert_eq!(status, [("running", 1, 1), ("stopped", 1, 5)]);
    drop(lock);

    // Name, status, test MSE and the created time stay whole at every size.
    app.switch(Pane::Runs);
    let created = created_compact(&app.runs.runs[0].created);
    for (w, h) in [(80, 24), (100, 30), (200, 60)] {
        let s = screen(&app, w, h);
        for needle in [
            app.runs.runs[1].name.as_str(),
            "stopped",
            "running",
            "test MSE",
            "created",
            created.as_str(),
        ] {
            assert!(s.contains(needle), "{w}x{h}: no {needle}\n{s}");
        }
    }
    assert!(screen(&app, 200, 60).contains("train"), "losses when wide");
}

#[test]
fn created_times_read_month_day_hour_minute() {
    assert_eq!(created_compact("2026-11-30T16:05:42Z"), "11-30 16:05");
    assert_eq!(created_compact("yesterday"), "yesterday");
    assert_eq!(
        created_compact("a very long unexpected text"),
        "a very long"
    );
}
