//! `n` twice in the Reconstructions pane: the answers for the first pick arrive after the second
//! request and must be dropped, and the pane, drawn after every message, shows one pick at a time:
//! its ROIs and the other models' rows computed for those ROIs, never a mix.

use std::collections::BTreeSet;

use super::app::{app, key, screen};
use super::roi;
use crate::data::{Label, ROI_PIXELS};
use crate::eval::{RoiMetrics, Summary};
use crate::tui::app::App;
use crate::tui::jobs::{Done, JobKey, Outcome, PeerRecon, ReconData, ReconRoi, Request};
use crate::tui::Msg;

const RUN: &str = "/runs/vqvae-1";

/// What the Recon job returns for `pick`: ROI files named after it.
fn recon_of(pick: usize) -> ReconData {
    let rois = (0..4)
        .map(|k| {
            let label = if k < 2 {
                Label::Healthy
            } else {
                Label::Steatosis
            };
            let r = roi("1", k, label, 100 + 10 * pick as u8);
            let recon = vec![0.5; ROI_PIXELS];
            ReconRoi {
                file: format!("pick{pick}_roi{k}.png"),
                label,
                metrics: RoiMetrics::of(&r.to_unit(), &recon),
                pixels: r.pixels,
                recon,
                codes: None,
            }
        })
        .collect();
    ReconData {
        run: RUN.into(),
        model: crate::model::ModelKind::Vqvae,
        epoch: 1,
        pick,
        rois,
        summary: Summary::of(&[]),
    }
}

/// What the Peers job returns for `pick`: another model's row, from a run named after it.
fn peers_of(pick: usize) -> Vec<PeerRecon> {
    let d = recon_of(pick);
    vec![PeerRecon {
        run: format!("/runs/cae-{pick}").into(),
        model: crate::model::ModelKind::Cae,
        epoch: 1,
        recons: vec![vec![0.4; ROI_PIXELS]; d.rois.len()],
        metrics: d.rois.iter().map(|r| r.metrics).collect(),
    }]
}

/// The id and request of the newest request of `key`.
fn last(app: &App, key: JobKey) -> (u64, Request) {
    app.unsent
        .iter()
        .rev()
        .find(|(_, r)| r.key() == key)
        .cloned()
        .unwrap_or_else(|| panic!("no {key:?} request"))
}

fn deliver(app: &mut App, key: JobKey, id: u64, outcome: Outcome) {
    app.on_msg(Msg::Job(Done { key, id, outcome }));
}

/// The picks on screen, from ROI names and other models' rows; asserts there is at most one and
/// that the pane's state agrees.
fn shown(app: &App) -> BTreeSet<usize> {
    let s = screen(app, 160, 50);
    let picks: BTreeSet<usize> = (0..4)
        .filter(|p| s.contains(&format!("pick{p}_roi")))
        .collect();
    assert!(picks.len() <= 1, "picks {picks:?} mixed on screen:\n{s}");
    if let Some(d) = &app.recon.data {
        for p in &app.recon.peers {
            let run = std::path::PathBuf::from(format!("/runs/cae-{}", d.pick));
            assert_eq!(p.run, run, "rows of another pick");
        }
        assert!(d
            .rois
            .iter()
            .all(|r| r.file.starts_with(&format!("pick{}_", d.pick))));
    }
    picks
}

#[test]
fn n_twice_in_recon_never_mixes_picks() {
    let (mut app, _rx) = app();
    app.recon.run = Some(RUN.into());
    app.checkpoint = Some(1);
    app.on_key(key('3'));
    let (r0, req) = last(&app, JobKey::Recon);
    assert_eq!(
        req,
        Request::Recon {
            run: RUN.into(),
            pick: 0
        }
    );
    deliver(
        &mut app,
        JobKey::Recon,
        r0,
        Outcome::Recon(RUN.into(), Ok(recon_of(0))),
    );
    assert_eq!(shown(&app), [0].into());
    let (p0, req) = last(&app, JobKey::Peers);
    assert!(matches!(req, Request::Peers { pick: 0, .. }), "{req:?}");
    deliver(
        &mut app,
        JobKey::Peers,
        p0,
        Outcome::Peers(RUN.into(), 0, Ok(peers_of(0))),
    );
    assert_eq!(app.recon.peers.len(), 1);
    assert_eq!(
        app.recon.peers[0].run,
        std::path::PathBuf::from("/runs/cae-0")
    );
    assert!(screen(&app, 160, 50).contains("cae "));
    assert_eq!(shown(&app), [0].into());

    // `n` twice: picks 1 and 2 asked for, before any answer.
    app.on_key(key('n'));
    let (r1, req1) = last(&app, JobKey::Recon);
    app.on_key(key('n'));
    let (r2, req2) = last(&app, JobKey::Recon);
    assert!(matches!(req1, Request::Recon { pick: 1, .. }), "{req1:?}");
    assert!(matches!(req2, Request::Recon { pick: 2, .. }), "{req2:?}");
    assert!(r0 < r1 && r1 < r2);
    assert!(app.recon.busy);
    assert_eq!(
        shown(&app),
        [0].into(),
        "the old pick stays whole meanwhile"
    );

    // The first pick's answer arrives after the second request: dropped, and it asks for nothing.
    let requests = app.unsent.len();
    deliver(
        &mut app,
        JobKey::Recon,
        r1,
        Outcome::Recon(RUN.into(), Ok(recon_of(1))),
    );
    assert_eq!(app.recon.data.as_ref().map(|d| d.pick), Some(0));
    assert_eq!(
        app.unsent.len(),
        requests,
        "no other models' rows for pick 1"
    );
    assert_eq!(shown(&app), [0].into());
    // The other models' answer for the old pick, late (its job was cancelled by `n`): dropped.
    let mut late = peers_of(0);
    late[0].run = "/runs/cae-late".into();
    deliver(
        &mut app,
        JobKey::Peers,
        p0,
        Outcome::Peers(RUN.into(), 0, Ok(late)),
    );
    assert_eq!(
        app.recon.peers[0].run,
        std::path::PathBuf::from("/runs/cae-0")
    );

    // The second pick arrives: its ROIs alone, then its other models' rows.
    deliver(
        &mut app,
        JobKey::Recon,
        r2,
        Outcome::Recon(RUN.into(), Ok(recon_of(2))),
    );
    assert!(!app.recon.busy);
    assert!(
        app.recon.peers.is_empty(),
        "pick 0's rows went with its ROIs"
    );
    assert_eq!(shown(&app), [2].into());
    let (p2, req) = last(&app, JobKey::Peers);
    assert!(matches!(req, Request::Peers { pick: 2, .. }), "{req:?}");
    assert!(p2 > p0);
    // A Peers answer with the current id but for another pick (never sent, but never shown).
    deliver(
        &mut app,
        JobKey::Peers,
        p2,
        Outcome::Peers(RUN.into(), 1, Ok(peers_of(1))),
    );
    assert!(app.recon.peers.is_empty());
    deliver(
        &mut app,
        JobKey::Peers,
        p2,
        Outcome::Peers(RUN.into(), 2, Ok(peers_of(2))),
    );
    assert_eq!(
        app.recon.peers[0].run,
        std::path::PathBuf::from("/runs/cae-2")
    );
    assert!(screen(&app, 160, 50).contains("cae "));
    assert_eq!(shown(&app), [2].into());
    // Pick 1's answer, very late: still dropped.
    deliver(
        &mut app,
        JobKey::Recon,
        r1,
        Outcome::Recon(RUN.into(), Ok(recon_of(1))),
    );
    assert_eq!(shown(&app), [2].into());
}
