//! The job runner: claims due jobs from the durable queue and dispatches them by kind to
//! registered handlers, plus periodic "tick" tasks (deadline sweeps…).
//!
//! Delivery is at least once (a lease that runs out hands the job to the next claim), so
//! handlers must be idempotent. "Due" is decided by the state's injectable clock, so tests
//! drive deadlines and retry spacing without sleeping: they call [`JobRunner::run_once`].
//! Other modules register their kinds the same way ([`JobRunner::register`]).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use store::Job;

use crate::app::AppState;

/// A boxed handler future.
pub type JobFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;
/// A job handler: gets the state and the claimed job; `Err` fails the attempt (retried with
/// back-off until the job's attempts are exhausted).
pub type Handler = Arc<dyn Fn(AppState, Job) -> JobFuture + Send + Sync>;
/// A periodic task run before each claim round.
pub type Tick = Arc<dyn Fn(AppState) -> JobFuture + Send + Sync>;

/// Dispatches jobs by kind.
#[derive(Clone)]
pub struct JobRunner {
    state: AppState,
    worker: String,
    handlers: HashMap<String, Handler>,
    ticks: Vec<(String, Tick)>,
    lease: chrono::Duration,
    batch: u32,
}

/// What one [`JobRunner::run_once`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Jobs completed.
    pub done: usize,
    /// Jobs that failed this attempt.
    pub failed: usize,
}

impl JobRunner {
    /// A runner with no handlers. `worker` names this process in job leases (the process id
    /// is appended, so two processes never share a lease name).
    pub fn new(state: AppState, worker: &str) -> JobRunner {
        // A dead worker's jobs come back after the lease (`[jobs] lease_secs`).
        let lease = chrono::Duration::seconds(state.config.jobs.lease_secs.clamp(1, 86_400) as i64);
        JobRunner {
            state,
            worker: format!("{worker}-{}", std::process::id()),
            handlers: HashMap::new(),
            ticks: Vec::new(),
            lease,
            batch: 16,
        }
    }

    /// Registers the handler for a job kind (replacing any earlier one).
    pub fn register<F, Fut>(&mut self, kind: &str, f: F) -> &mut Self
    where
        F: Fn(AppState, Job) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.handlers
            .insert(kind.to_string(), Arc::new(move |s, j| Box::pin(f(s, j))));
        self
    }

    /// Registers a periodic task (run at the start of every round; must be idempotent).
    pub fn tick<F, Fut>(&mut self, name: &str, f: F) -> &mut Self
    where
        F: Fn(AppState) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.ticks
            .push((name.to_string(), Arc::new(move |s| Box::pin(f(s)))));
        self
    }

    /// The kinds this runner handles.
    pub fn kinds(&self) -> Vec<&str> {
        self.handlers.keys().map(String::as_str).collect()
    }

    /// Runs the ticks, then claims and runs due jobs until none are due (bounded).
    pub async fn run_once(&self) -> anyhow::Result<RunSummary> {
        for (name, t) in &self.ticks {
            if let Err(e) = t(self.state.clone()).await {
                tracing::warn!(tick = %name, error = %e, "periodic task failed");
            }
        }
        let kinds = self.kinds();
        let mut sum = RunSummary::default();
        for _ in 0..64 {
            let now = self.state.clock.now();
            let jobs = self
                .state
                .store
                .claim_jobs_at(&self.worker, &kinds, self.batch, self.lease, now)
                .await?;
            if jobs.is_empty() {
                break;
            }
            for job in jobs {
                let Some(h) = self.handlers.get(&job.kind) else {
                    continue;
                };
                let (id, kind, attempts) = (job.id, job.kind.clone(), job.attempts);
                match h(self.state.clone(), job).await {
                    Ok(()) => {
                        self.state.store.complete_job(id, &self.worker).await?;
                        sum.done += 1;
                    }
                    Err(e) => {
                        // Exponential back-off: 30 s, 1 min, 2 min … capped at 1 h.
                        let secs = 30i64 << attempts.clamp(0, 7);
                        let retry =
                            self.state.clock.now() + chrono::Duration::seconds(secs.min(3600));
                        tracing::warn!(job = id, %kind, error = %e, "job failed");
                        self.state
                            .store
                            .fail_job(id, &self.worker, &format!("{e:#}"), retry)
                            .await?;
                        sum.failed += 1;
                    }
                }
            }
        }
        Ok(sum)
    }

    /// Runs rounds forever, `every` apart (the serve loop).
    pub fn spawn(self, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = self.run_once().await {
                    tracing::warn!(error = %e, "job round failed");
                }
            }
        })
    }
}
