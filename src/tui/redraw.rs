//! How soon a change must reach the screen: what the app's handlers return and the event loop's
//! pacer consumes. Its own module so that the app does not depend on the event loop that drives it.

/// How soon a change must reach the screen. Ordered: the most urgent of several wins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Redraw {
    /// Nothing visible changed.
    #[default]
    None,
    /// A training step: within `runtime::STEP_FRAME` of the last frame.
    Coalesce,
    /// Keys, resizes, epochs, job results: within `runtime::FRAME` of the last frame.
    Now,
}

impl Redraw {
    /// `Now` when `changed`, else `None`.
    pub fn now_if(changed: bool) -> Redraw {
        if changed {
            Redraw::Now
        } else {
            Redraw::None
        }
    }
}
