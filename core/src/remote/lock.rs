//! Coalescing across hosts: a short-lived lock per cache key (`SET NX PX`, released only by
//! its holder, with a compare-and-delete script) lets one host fetch a missing object from
//! the origin while the others wait a bounded time for its metadata to appear. If the holder
//! gives up (releases without storing, or crashes and the lock expires), waiters are told so
//! and go to the origin themselves.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::{block_on, millis, runtime, unique_token, Client, Lane};
use super::error::RemoteResult;
use super::layout::{MetaRecord, RemoteEntry};

/// Releases the lock only if it still holds our token (it may have expired and been taken).
const RELEASE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/// Extends the lock only if it still holds our token.
const EXTEND: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";

/// Waiting polls this often at first, backing off to `MAX_POLL`.
const FIRST_POLL: Duration = Duration::from_millis(5);
const MAX_POLL: Duration = Duration::from_millis(50);

pub enum LockAttempt {
    /// This process fetches; the others wait for it. Release (or drop) when done.
    Acquired(RemoteLock),
    /// Another host holds it: `wait_for` its result.
    Busy,
    /// The shared tier failed: go to the origin without coordination.
    Unavailable,
}

#[derive(Debug, PartialEq)]
pub enum WaitOutcome {
    /// The holder stored the entry: read it from the shared tier.
    Stored(RemoteEntry),
    /// The lock went away without an entry (the holder failed): go to the origin.
    Released,
    /// Still locked after the wait: go to the origin.
    TimedOut,
    /// The shared tier failed while waiting: go to the origin.
    Unavailable,
}

pub struct RemoteLock {
    client: Arc<Client>,
    key: Vec<u8>,
    token: String,
    released: bool,
}

impl RemoteLock {
    /// Keeps the lock for `ttl` from now (a long origin fetch); false if it was lost (it
    /// expired and another host may have taken it).
    pub fn extend(&self, ttl: Duration) -> RemoteResult<bool> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(EXTEND)
            .arg(1)
            .arg(&self.key)
            .arg(&self.token)
            .arg(millis(ttl));
        let client = &self.client;
        let extended: i64 = block_on(client.query(
            "extending a fetch lock",
            Lane::Control,
            client.options.op_timeout,
            &cmd,
        ))?;
        Ok(extended == 1)
    }

    /// Releases now and waits for the answer (tests, orderly shutdown).
    pub fn release(mut self) -> RemoteResult<bool> {
        self.released = true;
        let (client, key, token) = (self.client.clone(), self.key.clone(), self.token.clone());
        block_on(release(client, key, token))
    }
}

impl Drop for RemoteLock {
    fn drop(&mut self) {
        if !self.released {
            let (client, key, token) = (self.client.clone(), self.key.clone(), self.token.clone());
            runtime().spawn(async move {
                let _ = release(client, key, token).await;
            });
        }
    }
}

async fn release(client: Arc<Client>, key: Vec<u8>, token: String) -> RemoteResult<bool> {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(RELEASE).arg(1).arg(key).arg(token);
    let deleted: i64 = client
        .query(
            "releasing a fetch lock",
            Lane::Control,
            client.options.op_timeout,
            &cmd,
        )
        .await?;
    Ok(deleted == 1)
}

pub(crate) fn try_lock(client: &Arc<Client>, key: &str, ttl: Duration) -> LockAttempt {
    let lock_key = client.layout.lock(key);
    let token = unique_token();
    let mut cmd = redis::cmd("SET");
    cmd.arg(&lock_key)
        .arg(&token)
        .arg("NX")
        .arg("PX")
        .arg(millis(ttl));
    let result: RemoteResult<Option<String>> =
        // The operation timeout, not the lookup one: the lock precedes an origin fetch, which
        // costs far more than a slow answer, and a lost answer means a duplicate fetch.
        block_on(client.query("taking a fetch lock", Lane::Control, client.options.op_timeout, &cmd));
    match result {
        Ok(Some(_)) => {
            client.count(|c| &c.locks_acquired, 1);
            LockAttempt::Acquired(RemoteLock {
                client: client.clone(),
                key: lock_key,
                token,
                released: false,
            })
        }
        Ok(None) => {
            client.count(|c| &c.locks_busy, 1);
            LockAttempt::Busy
        }
        Err(_) => LockAttempt::Unavailable,
    }
}

pub(crate) fn wait_for(client: &Arc<Client>, key: &str, max_wait: Duration) -> WaitOutcome {
    block_on(async {
        let deadline = Instant::now() + max_wait;
        let mut poll = FIRST_POLL;
        loop {
            let mut pipe = redis::pipe();
            pipe.cmd("GET").arg(client.layout.meta(key));
            pipe.cmd("EXISTS").arg(client.layout.lock(key));
            let answer: RemoteResult<(Option<Vec<u8>>, bool)> = client
                .pipeline(
                    "waiting for a fetch lock",
                    Lane::Control,
                    client.options.op_timeout,
                    &pipe,
                )
                .await;
            match answer {
                Err(_) => return WaitOutcome::Unavailable,
                Ok((Some(meta), _)) => {
                    return match MetaRecord::decode(key, &meta) {
                        Ok(entry) => WaitOutcome::Stored(entry),
                        Err(err) => {
                            client.value_error(err);
                            WaitOutcome::Unavailable
                        }
                    }
                }
                Ok((None, false)) => return WaitOutcome::Released,
                Ok((None, true)) => {}
            }
            let now = Instant::now();
            if now >= deadline {
                return WaitOutcome::TimedOut;
            }
            tokio::time::sleep(poll.min(deadline - now)).await;
            poll = (poll * 2).min(MAX_POLL);
        }
    })
}
