//! `Job`: work for a libuv thread, as the promise every async method returns. Its result
//! goes to JS as is; its failure (a core error or a caught panic) rejects the promise with the
//! coded JS error `js_error` builds, like a sync method's throw.

use napi::bindgen_prelude::{AsyncTask, ToNapiValue, TypeName};
use napi::{Env, Task};
use streaming_cache_core::CacheError;

use crate::errors::{catch, CodedError};
use crate::js_error::Failure;

type Work<T> = Box<dyn FnMut() -> Result<T, Failure> + Send>;

pub struct Job<T> {
    /// `FnMut`, called once: what it captures (Buffers JS handed over) is dropped with the
    /// job on the JS thread, not on the libuv thread the work ran on.
    work: Work<T>,
    /// The failure `compute` met, for `reject` to build the JS error with the env.
    failure: Option<Failure>,
}

impl<T> Job<T>
where
    T: ToNapiValue + TypeName + Send + 'static,
{
    /// The promise of `work`'s result, run on the libuv thread pool.
    pub fn spawn<E: CodedError>(
        mut work: impl FnMut() -> Result<T, E> + Send + 'static,
    ) -> AsyncTask<Job<T>> {
        AsyncTask::new(Job {
            work: Box::new(move || catch(&mut work)),
            failure: None,
        })
    }

    /// `spawn` for work that cannot fail except by panicking.
    pub fn spawn_infallible(mut work: impl FnMut() -> T + Send + 'static) -> AsyncTask<Job<T>> {
        Self::spawn(move || Ok::<T, CacheError>(work()))
    }
}

impl<T> Task for Job<T>
where
    T: ToNapiValue + TypeName + Send + 'static,
{
    type Output = T;
    type JsValue = T;

    fn compute(&mut self) -> napi::Result<T> {
        (self.work)().map_err(|failure| {
            let reason = failure.message.clone();
            self.failure = Some(failure);
            napi::Error::from_reason(reason)
        })
    }

    fn resolve(&mut self, _env: Env, output: T) -> napi::Result<T> {
        Ok(output)
    }

    fn reject(&mut self, env: Env, err: napi::Error) -> napi::Result<T> {
        Err(match self.failure.take() {
            Some(failure) => failure.into_napi(&env),
            None => err,
        })
    }
}
