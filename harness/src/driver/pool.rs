//! Where each scenario gets its SDK: a fresh in-process client per scenario, or one of N
//! running adapter programs, lent for one scenario at a time ([`Lease`]) and reset when it
//! comes back. This is what lets scenarios run side by side (`--jobs`): client names
//! (`main`, `b`) are per scenario, so two scenarios never share a driver at once.

use std::sync::Arc;

use tokio::sync::{Mutex, mpsc};

use super::{Adapter, Driver, InProcess};
use crate::protocol::{Hello, SdkError};

/// The SDK under test, as a source of drivers for concurrent scenarios.
pub struct Drivers {
    hello: Hello,
    source: Source,
}

enum Source {
    /// A new driver per scenario.
    Fresh(Box<dyn Fn() -> Arc<dyn Driver> + Send + Sync>),
    /// A fixed set, each lent to one scenario at a time.
    Pool {
        size: usize,
        home: mpsc::UnboundedSender<Arc<dyn Driver>>,
        free: Mutex<mpsc::UnboundedReceiver<Arc<dyn Driver>>>,
    },
}

impl Drivers {
    /// The reference client in process: a fresh one per scenario, any number at once.
    pub fn in_process() -> Self {
        Self::fresh(|| Arc::new(InProcess::new()))
    }

    /// A new driver from `make` for every scenario.
    pub fn fresh(make: impl Fn() -> Arc<dyn Driver> + Send + Sync + 'static) -> Self {
        let hello = make().hello().clone();
        Self {
            hello,
            source: Source::Fresh(Box::new(make)),
        }
    }

    /// `copies` running copies of the adapter `command`, each taking scenarios one at a time.
    pub async fn adapters(command: &str, copies: usize) -> Result<Self, SdkError> {
        let spawned =
            futures_util::future::try_join_all((0..copies.max(1)).map(|_| Adapter::spawn(command)))
                .await?;
        let drivers = spawned
            .into_iter()
            .map(|a| Arc::new(a) as Arc<dyn Driver>)
            .collect();
        Ok(Self::pool(drivers))
    }

    /// Drivers that already run (at least one); scenarios take turns on them.
    ///
    /// # Panics
    /// If `drivers` is empty.
    pub fn pool(drivers: Vec<Arc<dyn Driver>>) -> Self {
        let hello = drivers
            .first()
            .map(|d| d.hello().clone())
            .expect("a pool needs at least one driver");
        let size = drivers.len();
        let (home, free) = mpsc::unbounded_channel();
        for driver in drivers {
            let _sent = home.send(driver);
        }
        Self {
            hello,
            source: Source::Pool {
                size,
                home,
                free: Mutex::new(free),
            },
        }
    }

    /// What the SDK declared about itself.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// How many scenarios can have a driver at once (`None`: no limit).
    pub fn capacity(&self) -> Option<usize> {
        match &self.source {
            Source::Fresh(_) => None,
            Source::Pool { size, .. } => Some(*size),
        }
    }

    /// A driver for one scenario; waits while every pooled driver is lent out.
    pub(crate) async fn lend(&self) -> Lease {
        match &self.source {
            Source::Fresh(make) => Lease {
                driver: make(),
                home: None,
            },
            Source::Pool { home, free, .. } => {
                let driver = free.lock().await.recv().await;
                // The pool holds its own sender, so the channel never closes.
                let driver = driver.unwrap_or_else(|| unreachable!("the pool's channel is open"));
                Lease {
                    driver,
                    home: Some(home.clone()),
                }
            }
        }
    }
}

/// A driver lent to one scenario; dropping the lease gives it back.
pub(crate) struct Lease {
    driver: Arc<dyn Driver>,
    home: Option<mpsc::UnboundedSender<Arc<dyn Driver>>>,
}

impl Lease {
    pub(crate) fn driver(&self) -> Arc<dyn Driver> {
        self.driver.clone()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(home) = &self.home {
            let _returned = home.send(self.driver.clone());
        }
    }
}
