//! The scheduler's clock, a value the engine and the runs table are given: the system
//! clock in consoles and daemons, a clock that tests set by hand so that they drive time
//! instead of waiting for it (atuin's search takes its `now` the same way).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use tokio::sync::watch;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
    /// Wait until `now()` reaches `t`, or less: the caller looks at the clock again when
    /// this returns, so a clock that jumps (suspend, NTP) is noticed.
    fn sleep_until(&self, t: DateTime<Utc>) -> BoxFuture<'_, ()>;
}

pub type SharedClock = Arc<dyn Clock>;

/// Wall-clock time. Sleeps at most a second at a time, so a jump of the wall clock
/// (a laptop waking, NTP stepping) is seen within a second.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, t: DateTime<Utc>) -> BoxFuture<'_, ()> {
        let wait = (t - Utc::now())
            .to_std()
            .unwrap_or_default()
            .min(Duration::from_secs(1));
        Box::pin(tokio::time::sleep(wait))
    }
}

pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock that moves only when told to: `set` and `advance` wake every sleeper whose
/// time has come.
pub struct ManualClock {
    now: watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Arc<ManualClock> {
        Arc::new(ManualClock {
            now: watch::Sender::new(start),
        })
    }

    pub fn set(&self, t: DateTime<Utc>) {
        self.now.send_replace(t);
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.now.send_modify(|t| *t += by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    fn sleep_until(&self, t: DateTime<Utc>) -> BoxFuture<'_, ()> {
        let mut rx = self.now.subscribe();
        Box::pin(async move {
            let _ = rx.wait_for(|now| *now >= t).await;
        })
    }
}
