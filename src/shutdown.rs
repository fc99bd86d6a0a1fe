//! Shutdown signalling: one [`Shutdown`] trigger, any number of [`ShutdownSignal`]s that
//! every task selects on (a `tokio::sync::watch`, so a task that subscribes late still sees
//! a shutdown that already happened).

use tokio::sync::watch;

/// The trigger. Dropping it does not signal; call [`Shutdown::trigger`].
#[derive(Debug)]
pub struct Shutdown {
    sender: watch::Sender<bool>,
}

/// What a task holds to learn that it must stop.
#[derive(Debug, Clone)]
pub struct ShutdownSignal {
    receiver: watch::Receiver<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A trigger that has not fired.
    #[must_use]
    pub fn new() -> Self {
        let (sender, _) = watch::channel(false);
        Self { sender }
    }

    /// A signal for a task.
    #[must_use]
    pub fn signal(&self) -> ShutdownSignal {
        ShutdownSignal {
            receiver: self.sender.subscribe(),
        }
    }

    /// Tells every task to stop.
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    /// Whether [`Shutdown::trigger`] was called.
    #[must_use]
    pub fn is_triggered(&self) -> bool {
        *self.sender.borrow()
    }
}

impl ShutdownSignal {
    /// A signal that never fires (for connections nobody needs to stop).
    #[must_use]
    pub fn never() -> Self {
        // With the sender gone, `wait` stays pending for ever.
        let (_, receiver) = watch::channel(false);
        Self { receiver }
    }

    /// Whether shutdown has been triggered.
    #[must_use]
    pub fn is_triggered(&self) -> bool {
        *self.receiver.borrow()
    }

    /// Resolves once shutdown is triggered (at once if it already was). Cancel safe. If
    /// the [`Shutdown`] is dropped without triggering, this never resolves.
    pub async fn wait(&mut self) {
        if self.receiver.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Installs SIGINT and SIGTERM handlers now, and returns a future that resolves on the
/// first of them (Ctrl-C elsewhere). Installing before announcing readiness matters: a
/// signal that arrives before the handlers exist would kill the process.
///
/// # Errors
/// When the signal handlers cannot be installed.
pub fn terminate_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn late_subscriber_sees_it() {
        let shutdown = Shutdown::new();
        let mut early = shutdown.signal();
        assert!(!early.is_triggered());
        shutdown.trigger();
        let mut late = shutdown.signal();
        late.wait().await;
        early.wait().await;
        assert!(shutdown.is_triggered());
    }
}
