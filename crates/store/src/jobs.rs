//! Durable job queue types. Delivery is at least once (a lease that expires hands the job to
//! another worker), so handlers must be idempotent; the idempotency key makes enqueueing
//! idempotent too.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Job id.
pub type JobId = i64;

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for `run_at`.
    Pending,
    /// Claimed by a worker until `lease_until`.
    Running,
    /// Finished.
    Done,
    /// Attempts exhausted.
    Dead,
}

impl JobStatus {
    /// Text form.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Dead => "dead",
        }
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(JobStatus::Pending),
            "running" => Ok(JobStatus::Running),
            "done" => Ok(JobStatus::Done),
            "dead" => Ok(JobStatus::Dead),
            _ => Err(format!("unknown job status {s:?}")),
        }
    }
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Handler name, e.g. `hit.verify`.
    pub kind: String,
    /// Handler input.
    pub payload: serde_json::Value,
    /// Earliest run time.
    pub run_at: DateTime<Utc>,
    /// Attempts before the job is dead.
    pub max_attempts: i64,
    /// Enqueue-once key (e.g. `hit.verify:42:1`).
    pub idempotency_key: Option<String>,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    /// Id.
    pub id: JobId,
    /// Handler name.
    pub kind: String,
    /// Handler input.
    pub payload: serde_json::Value,
    /// Earliest (next) run time.
    pub run_at: DateTime<Utc>,
    /// Attempts started so far (including the current one when running).
    pub attempts: i64,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// Status.
    pub status: JobStatus,
    /// Lease end while running.
    pub lease_until: Option<DateTime<Utc>>,
    /// Worker holding the lease.
    pub locked_by: Option<String>,
    /// Last failure message.
    pub last_error: Option<String>,
    /// Idempotency key.
    pub idempotency_key: Option<String>,
}
