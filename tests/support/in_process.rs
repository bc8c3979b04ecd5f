//! A broker running inside the test process, on its own runtime.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use weir_core::broker::{self, BrokerConfig, BrokerError};

/// `weir_core::broker::run` on `127.0.0.1:0`, stopped through its cancellation token
/// when dropped.
#[derive(Debug)]
pub(crate) struct InProcessBroker {
    runtime: Option<Runtime>,
    task: Option<JoinHandle<Result<(), BrokerError>>>,
    shutdown: CancellationToken,
    /// `127.0.0.1:PORT`.
    pub(crate) bootstrap: String,
}

impl InProcessBroker {
    /// Starts a broker with `config` (its `data_dir` is the caller's to own).
    pub(crate) fn start(config: BrokerConfig) -> InProcessBroker {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("broker runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let bootstrap = listener.local_addr().expect("local address").to_string();
        let shutdown = CancellationToken::new();
        // The runtime is owned by this struct and the task is awaited on drop, so the
        // task cannot outlive its owner.
        let task = runtime.spawn(broker::run(listener, config, shutdown.clone()));
        InProcessBroker {
            runtime: Some(runtime),
            task: Some(task),
            shutdown,
            bootstrap,
        }
    }

    /// Stops the broker, waits for it, and fails the test if it stopped with an error.
    pub(crate) fn stop(mut self) {
        if let Err(err) = self.shutdown_and_wait() {
            panic!("the broker stopped with an error: {err}");
        }
    }

    fn shutdown_and_wait(&mut self) -> Result<(), String> {
        self.shutdown.cancel();
        let (Some(runtime), Some(task)) = (self.runtime.take(), self.task.take()) else {
            return Ok(());
        };
        let result = runtime.block_on(async {
            match tokio::time::timeout(Duration::from_secs(30), task).await {
                Ok(Ok(Ok(()))) => Ok(()),
                Ok(Ok(Err(err))) => Err(err.to_string()),
                Ok(Err(join)) => Err(format!("the broker task failed: {join}")),
                Err(_) => Err("the broker did not stop within 30 s".to_owned()),
            }
        });
        runtime.shutdown_timeout(Duration::from_secs(5));
        result
    }
}

impl Drop for InProcessBroker {
    fn drop(&mut self) {
        let _ = self.shutdown_and_wait();
    }
}
