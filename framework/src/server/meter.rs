//! The worker's connection counters for [`App::metrics`](crate::App::metrics): connections
//! accepted and closed, live connections, bytes in and out, blocking refusals. Without the
//! `metrics` feature a [`Meter`] is empty and every call compiles to nothing; with it, an app
//! that does not serve metrics pays one test per call.

#[cfg(feature = "metrics")]
use std::sync::Arc;

#[cfg(feature = "metrics")]
use crate::metrics::ServerBlock;
use crate::site::Site;

/// What one worker counts, into a block of counters that it alone writes (see
/// `metrics.rs` for why no lock is needed).
pub(super) struct Meter {
    #[cfg(feature = "metrics")]
    block: Option<Arc<ServerBlock>>,
}

/// Calls `$method` on the worker's block, if the app serves metrics.
macro_rules! count {
    ($self:ident, $method:ident $(, $arg:expr)?) => {
        #[cfg(feature = "metrics")]
        if let Some(block) = &$self.block {
            block.$method($($arg)?);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = ($self, $($arg)?);
    };
}

impl Meter {
    pub(super) fn new(site: &Site) -> Self {
        #[cfg(not(feature = "metrics"))]
        let _ = site;
        Self {
            #[cfg(feature = "metrics")]
            block: site.metrics.as_ref().map(|metrics| metrics.server_block()),
        }
    }

    pub(super) fn accepted(&self) {
        count!(self, accepted);
    }

    pub(super) fn closed(&self) {
        count!(self, closed);
    }

    #[cfg(feature = "metrics")]
    pub(super) fn live_opened(&self) {
        count!(self, live_opened);
    }

    #[cfg(feature = "metrics")]
    pub(super) fn live_closed(&self) {
        count!(self, live_closed);
    }

    #[inline(always)]
    pub(super) fn received(&self, bytes: usize) {
        count!(self, received, bytes);
    }

    #[inline(always)]
    pub(super) fn sent(&self, bytes: usize) {
        count!(self, sent, bytes);
    }

    pub(super) fn blocking_refused(&self) {
        count!(self, blocking_refused);
    }
}
