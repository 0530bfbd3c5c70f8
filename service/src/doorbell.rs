//! The outbox workers' doorbell: rung by a queueing site after its commit, waited on by idle workers.

use std::sync::Arc;

/// Wakes this process's idle workers as soon as a job queued here is committed, instead of at their next
/// poll (every 200 ms when idle). Jobs queued by other processes are still found by polling. A ring
/// while no worker waits is kept for the next one to wait, so that a job committed while the workers
/// were busy is never left until the next poll.
#[derive(Clone, Debug, Default)]
pub struct Doorbell(Arc<tokio::sync::Notify>);

impl Doorbell {
    /// Call after the commit of the transaction that queued the job: rung earlier, a worker could look
    /// before the job is visible, find nothing and go back to sleep.
    pub fn ring(&self) {
        self.0.notify_one();
    }

    pub(crate) async fn rung(&self) {
        self.0.notified().await;
    }
}
