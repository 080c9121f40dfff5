//! Without the `engine` feature the loop has no link to Redis (`engine.rs`): the two
//! questions the loop asks of it have their answers for a server alone.

use super::Server;

impl Server {
    /// No link: never work left for the next pass.
    pub(super) fn engine_has_work(&self) -> bool {
        false
    }

    /// No link: nothing to say goodbye to on shutdown.
    pub(super) fn engine_settled(&mut self) -> bool {
        true
    }
}
