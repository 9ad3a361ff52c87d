//! One small tokio runtime for background work shared by every cache in the process.

use std::sync::OnceLock;

use tokio::runtime::{Builder, Runtime};

pub(crate) fn background() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(2)
            .thread_name("streaming-cache-bg")
            .enable_time()
            .build()
            .expect("the background runtime must start")
    })
}
