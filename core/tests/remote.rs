//! The shared tier against a real `redis-server` (started per test on a free 127.0.0.1 port
//! in a temp dir, stopped at the end). Install it with `bash scripts/redis-ci.sh`; without
//! it these tests print SKIP and pass. Cross-process behaviour (memory of a 200 MiB body,
//! lock contention) runs in child processes: this test binary re-invoked on `child_entry`.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use streaming_cache_core::remote::{
    LockAttempt, ReadSource, RemoteErrorKind, RemoteOptions, RemoteTier, UploadJob, WaitOutcome,
};
use streaming_cache_core::{CacheOptions, EntryMeta, StreamingCache};
use tempfile::TempDir;

// ---------------------------------------------------------------------------------------
// A real redis-server for one test.

struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: TempDir,
    extra: Vec<String>,
}

fn redis_binary() -> Option<&'static str> {
    ["redis-server", "valkey-server"].into_iter().find(|bin| {
        Command::new(bin)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    })
}

impl RedisServer {
    /// Starts a server, or returns None (after printing why) where none can be started.
    fn start(extra: &[&str]) -> Option<RedisServer> {
        if redis_binary().is_none() {
            eprintln!("SKIP: no redis-server on PATH (run `bash scripts/redis-ci.sh`)");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = RedisServer {
            child: None,
            port,
            dir: tempfile::tempdir().unwrap(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        server.launch();
        Some(server)
    }

    fn launch(&mut self) {
        let mut cmd = Command::new(redis_binary().unwrap());
        cmd.arg("--port")
            .arg(self.port.to_string())
            .args([
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.child = Some(cmd.spawn().expect("redis-server starts"));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut conn) = redis::Client::open(self.url()).unwrap().get_connection() {
                if redis::cmd("PING").query::<String>(&mut conn).is_ok() {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "redis-server did not answer");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL: no shutdown, no save
            let _ = child.wait();
        }
    }

    fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection()
            .unwrap()
    }

    fn keys(&self, pattern: &str) -> Vec<String> {
        let mut keys: Vec<String> = redis::cmd("KEYS")
            .arg(pattern)
            .query(&mut self.conn())
            .unwrap();
        keys.sort();
        keys
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------------------
// Bodies and helpers.

/// A deterministic byte stream (xorshift), generated in pieces so a 200 MiB body never
/// exists whole in the test either.
struct Stream {
    state: u64,
    left: u64,
}

impl Stream {
    fn new(seed: u64, len: u64) -> Self {
        Stream {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            left: len,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        for slot in buf[..n].chunks_mut(8) {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            slot.copy_from_slice(&self.state.to_le_bytes()[..slot.len()]);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn body(seed: u64, len: usize) -> Vec<u8> {
    let mut out = vec![0; len];
    Stream::new(seed, len as u64).read_exact(&mut out).unwrap();
    out
}

fn options(server: &RedisServer) -> RemoteOptions {
    let mut options = RemoteOptions::new(server.url());
    options.chunk_size = 64 * 1024;
    options.max_body_size = 512 * 1024 * 1024;
    // Debug builds on a shared 2-core machine: generous, except where a test is about timeouts.
    options.lookup_timeout = Duration::from_millis(500);
    options.breaker_cooldown = Duration::from_millis(300);
    options.breaker_threshold = 3;
    options
}

fn put(tier: &RemoteTier, key: &str, bytes: &[u8]) {
    let mut writer = tier.writer();
    for piece in bytes.chunks(100_000) {
        writer.write(piece).unwrap();
    }
    writer
        .finish(
            key,
            json!({ "status": 200, "key": key }),
            Duration::from_secs(60),
        )
        .unwrap();
}

fn read_all(tier: &RemoteTier, key: &str) -> Option<Vec<u8>> {
    let mut reader = tier.get(key)?;
    let mut out = Vec::new();
    while let Some(chunk) = reader.next_chunk().ok()? {
        out.extend_from_slice(&chunk);
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------

#[test]
fn round_trip_and_identical_bodies_stored_once() {
    let Some(server) = RedisServer::start(&[]) else {
        return;
    };
    let tier = RemoteTier::connect(options(&server)).unwrap();
    let a = body(1, 300_000); // 5 chunks of 64 KiB
    put(&tier, "GET https://a.example/one", &a);
    put(&tier, "GET https://b.example/same-bytes", &a);
    let empty_key = "GET https://a.example/empty";
    put(&tier, empty_key, b"");

    assert_eq!(read_all(&tier, "GET https://a.example/one").unwrap(), a);
    assert_eq!(
        read_all(&tier, "GET https://b.example/same-bytes").unwrap(),
        a
    );
    assert_eq!(read_all(&tier, empty_key).unwrap(), b"");
    assert!(tier.get("GET https://a.example/never").is_none());

    let one = tier.lookup("GET https://a.example/one").unwrap();
    let two = tier.lookup("GET https://b.example/same-bytes").unwrap();
    assert_eq!(one.integrity, two.integrity);
    assert_eq!(
        one.integrity.to_string(),
        cacache::Integrity::from(&a[..]).to_string(),
        "the same address as on disk"
    );
    assert_eq!(one.meta["key"], "GET https://a.example/one");
    // One body: 5 chunks and a manifest, not 10; no upload leftovers.
    assert_eq!(server.keys("hsc:c:*").len(), 5);
    assert_eq!(
        server.keys("hsc:m:*").len(),
        2,
        "the shared body and the empty one"
    );
    assert!(server.keys("hsc:u:*").is_empty());
    let ttl: i64 = redis::cmd("PTTL")
        .arg("hsc:k:GET https://a.example/one")
        .query(&mut server.conn())
        .unwrap();
    assert!(
        ttl > 600_000 && ttl <= 660_000,
        "freshness (60 s) plus the default grace (600 s): {ttl}"
    );

    let stats = tier.stats();
    assert_eq!((stats.hits, stats.misses, stats.errors), (3, 1, 0));
    assert_eq!((stats.uploads, stats.uploads_deduplicated), (3, 1));
    assert_eq!(stats.bytes_read, 2 * a.len() as u64);
    assert_eq!(
        stats.bytes_written,
        2 * a.len() as u64,
        "both uploads sent their bytes; the second was then dropped"
    );

    // Invalidation removes the key, not the body another key still uses.
    assert!(tier.remove("GET https://a.example/one").unwrap());
    assert!(tier.get("GET https://a.example/one").is_none());
    assert_eq!(
        read_all(&tier, "GET https://b.example/same-bytes").unwrap(),
        a
    );

    // Purge removes every key of this prefix, and only those.
    let other = RemoteTier::connect(RemoteOptions {
        prefix: "other".into(),
        ..options(&server)
    })
    .unwrap();
    put(&other, "GET https://a.example/one", b"kept");
    assert_eq!(tier.purge().unwrap(), 2);
    assert!(tier.lookup("GET https://b.example/same-bytes").is_none());
    assert!(tier.lookup(empty_key).is_none());
    assert_eq!(
        read_all(&other, "GET https://a.example/one").unwrap(),
        b"kept"
    );
}

#[test]
fn partly_evicted_or_damaged_bodies_are_misses_never_torn_bodies() {
    let Some(server) = RedisServer::start(&[]) else {
        return;
    };
    let tier = RemoteTier::connect(options(&server)).unwrap();
    let a = body(2, 200_000); // 4 chunks
    put(&tier, "k1", &a);
    let chunks = server.keys("hsc:c:*");
    assert_eq!(chunks.len(), 4);

    // A middle chunk evicted: a miss when opened (every chunk is checked first), not a
    // response cut off halfway; the manifest is dropped so the body is stored again by the
    // next upload instead of deduplicated.
    let _: () = redis::cmd("DEL")
        .arg(chunks.iter().find(|k| k.ends_with(":2")).unwrap())
        .query(&mut server.conn())
        .unwrap();
    assert!(
        tier.get("k1").is_none(),
        "a body with a chunk gone is a miss"
    );
    assert!(tier.stats().evicted >= 1);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.keys("hsc:m:*").is_empty() {
        assert!(Instant::now() < deadline, "the broken manifest is removed");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(tier.get("k1").is_none(), "no manifest: a miss");
    put(&tier, "k1", &a);
    assert_eq!(
        tier.stats().uploads_deduplicated,
        0,
        "the wreck was not trusted for dedup"
    );
    assert_eq!(read_all(&tier, "k1").unwrap(), a, "stored again whole");

    // Same-length bytes swapped in the last chunk: the checksum fails and the last chunk
    // is withheld.
    let last = server
        .keys("hsc:c:*")
        .into_iter()
        .find(|k| k.ends_with(":3"))
        .unwrap();
    let len: usize = redis::cmd("STRLEN")
        .arg(&last)
        .query(&mut server.conn())
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(&last)
        .arg(vec![7u8; len])
        .query(&mut server.conn())
        .unwrap();
    let mut reader = tier.get("k1").unwrap();
    let mut got = 0usize;
    let err = loop {
        match reader.next_chunk() {
            Ok(Some(chunk)) => got += chunk.len(),
            Ok(None) => panic!("a damaged body read as complete"),
            Err(err) => break err,
        }
    };
    assert_eq!(err.kind(), RemoteErrorKind::Integrity);
    assert_eq!(got, 3 * 65536);

    // A chunk of the wrong size, and garbage metadata and manifests: misses, counted.
    put(&tier, "k2", &body(3, 100_000));
    let second = server
        .keys("hsc:c:*")
        .into_iter()
        .find(|k| k.ends_with(":1") && !k.contains(&last[..20]))
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(&second)
        .arg("short")
        .query(&mut server.conn())
        .unwrap();
    let mut reader = tier.get("k2").unwrap();
    let _ = reader.next_chunk().unwrap();
    assert_eq!(
        reader.next_chunk().unwrap_err().kind(),
        RemoteErrorKind::Garbage
    );
    let _: () = redis::cmd("SET")
        .arg("hsc:k:k3")
        .arg("\u{0}not json")
        .query(&mut server.conn())
        .unwrap();
    assert!(tier.get("k3").is_none());
    let errors_before = tier.stats().errors;
    let _: () = redis::cmd("SET")
        .arg("hsc:k:k4")
        .arg(r#"{"v":1,"integrity":"sha256-AAAA","size":1,"storedAt":0}"#)
        .query(&mut server.conn())
        .unwrap();
    assert!(tier.get("k4").is_none(), "metadata pointing at no body");
    let stats = tier.stats();
    assert!(stats.errors > errors_before);
    assert!(stats.evicted >= 2);
    assert!(!stats.breaker_open, "bad values are not outages");

    // A chunk evicted after the body was opened (beyond the read-ahead): reading stops
    // with Evicted before the end, never a torn body read as complete.
    let long = body(5, 10 * 65536);
    put(&tier, "k5", &long);
    let mut reader = tier.get("k5").expect("every chunk is there when opened");
    let doomed = server
        .keys("hsc:c:*")
        .into_iter()
        .filter(|k| k.ends_with(":8"))
        .collect::<Vec<_>>();
    assert_eq!(doomed.len(), 1);
    let _: () = redis::cmd("DEL")
        .arg(&doomed[0])
        .query(&mut server.conn())
        .unwrap();
    let mut got = 0usize;
    let err = loop {
        match reader.next_chunk() {
            Ok(Some(chunk)) => got += chunk.len(),
            Ok(None) => panic!("a torn body read as complete"),
            Err(err) => break err,
        }
    };
    assert_eq!(err.kind(), RemoteErrorKind::Evicted);
    assert_eq!(got, 8 * 65536);
    assert!(reader.next_chunk().is_err(), "stays failed");
}

#[test]
fn write_behind_copies_local_entries_and_skips_bodies_already_there() {
    let Some(server) = RedisServer::start(&[]) else {
        return;
    };
    let tier = RemoteTier::connect(options(&server)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let local = StreamingCache::open(dir.path(), CacheOptions::default()).unwrap();
    let bytes = body(4, 1_000_000);
    let meta = EntryMeta::from_value(
        json!({ "status": 200, "headers": { "content-type": "text/plain" } }),
    )
    .unwrap();
    for key in ["GET /a", "GET /b"] {
        let entry = local.put_bytes(key, meta.clone(), &bytes).unwrap();
        let source = local.clone();
        let key_owned = key.to_string();
        let accepted = tier.enqueue(UploadJob {
            key: key.into(),
            meta: serde_json::to_value(&entry.meta).unwrap(),
            fresh_for: Duration::from_secs(30),
            known: Some((entry.integrity.clone(), entry.size)),
            open: Box::new(move || {
                let (_, reader) = source
                    .open_body(&key_owned)?
                    .expect("the local entry is there");
                Ok(Box::new(reader) as Box<dyn streaming_cache_core::remote::BodySource>)
            }),
            release_after: None,
        });
        assert!(accepted);
        assert!(tier.flush(Duration::from_secs(30)));
    }
    let stats = tier.stats();
    assert_eq!(
        (
            stats.uploads,
            stats.uploads_deduplicated,
            stats.uploads_failed
        ),
        (2, 1, 0)
    );
    assert_eq!(
        stats.bytes_written,
        bytes.len() as u64,
        "the second key sent no body bytes"
    );
    assert_eq!(read_all(&tier, "GET /b").unwrap(), bytes);
    let entry = tier.lookup("GET /b").unwrap();
    assert_eq!(entry.meta["headers"]["content-type"], "text/plain");

    // A source whose bytes do not match the integrity it claims is not stored.
    let wrong = tier.enqueue(UploadJob {
        key: "GET /lie".into(),
        meta: json!({}),
        fresh_for: Duration::from_secs(30),
        known: Some((cacache::Integrity::from(b"something else".as_slice()), 14)),
        open: Box::new(|| {
            Ok(Box::new(ReadSource(std::io::Cursor::new(
                b"not that at all".to_vec(),
            ))) as _)
        }),
        release_after: None,
    });
    assert!(wrong);
    assert!(tier.flush(Duration::from_secs(10)));
    assert!(tier.lookup("GET /lie").is_none());
    assert_eq!(tier.stats().uploads_failed, 1);
}

#[test]
fn enqueue_local_uploads_what_the_local_cache_holds_and_skips_a_replaced_entry() {
    let Some(server) = RedisServer::start(&[]) else {
        return;
    };
    let tier = RemoteTier::connect(options(&server)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let local = StreamingCache::open(dir.path(), CacheOptions::default()).unwrap();
    let meta = EntryMeta::from_value(json!({ "status": 203 })).unwrap();
    let bytes = body(6, 150_000);
    let entry = local.put_bytes("local key", meta.clone(), &bytes).unwrap();
    assert!(tier.enqueue_local(
        &local,
        "local key",
        "GET /shared".into(),
        Some(&entry.integrity_string()),
        Duration::from_secs(30),
        None,
    ));
    assert!(tier.flush(Duration::from_secs(30)));
    assert_eq!(read_all(&tier, "GET /shared").unwrap(), bytes);
    assert_eq!(tier.lookup("GET /shared").unwrap().meta["status"], 203);

    // Replaced before its upload was queued: the old body is not sent (the replacement has
    // an upload of its own); a key not held at all is nothing to upload.
    local.put_bytes("local key", meta, b"newer").unwrap();
    assert!(!tier.enqueue_local(
        &local,
        "local key",
        "GET /stale".into(),
        Some(&entry.integrity_string()),
        Duration::from_secs(30),
        None,
    ));
    assert!(!tier.enqueue_local(
        &local,
        "never stored",
        "GET /none".into(),
        None,
        Duration::from_secs(30),
        None,
    ));
    assert!(tier.lookup("GET /stale").is_none());
    assert_eq!(tier.stats().uploads, 1);
}

#[test]
fn a_full_write_behind_queue_drops_and_counts() {
    let Some(server) = RedisServer::start(&[]) else {
        return;
    };
    let mut opts = options(&server);
    opts.queue_capacity = 1;
    opts.upload_workers = 1;
    let tier = RemoteTier::connect(opts).unwrap();
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let gate = std::sync::Arc::new(std::sync::Mutex::new(gate));
    let job = |key: &str| {
        let gate = gate.clone();
        UploadJob {
            key: key.into(),
            meta: json!({}),
            fresh_for: Duration::from_secs(30),
            known: None,
            open: Box::new(move || {
                // Held until the test lets it go: the worker stays busy.
                let _ = gate.lock().unwrap().recv_timeout(Duration::from_secs(20));
                Ok(Box::new(ReadSource(std::io::Cursor::new(b"payload".to_vec()))) as _)
            }),
            release_after: None,
        }
    };
    assert!(tier.enqueue(job("one")));
    // The worker picks "one" up (then blocks in its source); "two" waits in the queue.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut accepted = vec!["one"];
    while accepted.len() < 2 {
        assert!(Instant::now() < deadline);
        if tier.enqueue(job("two")) {
            accepted.push("two");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let dropped_before = tier.stats().uploads_dropped;
    assert!(!tier.enqueue(job("three")), "full: dropped, not queued");
    assert_eq!(tier.stats().uploads_dropped, dropped_before + 1);
    assert_eq!(tier.stats().queued, 2);
    release.send(()).unwrap();
    release.send(()).unwrap();
    assert!(tier.flush(Duration::from_secs(10)));
    assert!(tier.lookup("one").is_some() && tier.lookup("two").is_some());
    assert!(tier.lookup("three").is_none());
}

#[test]
fn a_slow_or_full_server_is_a_miss() {
    let Some(server) =
        RedisServer::start(&["--maxmemory", "2mb", "--maxmemory-policy", "noeviction"])
    else {
        return;
    };
    let mut opts = options(&server);
    opts.lookup_timeout = Duration::from_millis(20);
    opts.breaker_threshold = 100; // this test is about timeouts, not the breaker
    let tier = RemoteTier::connect(opts).unwrap();
    put(&tier, "small", b"hello");
    assert!(tier.get("small").is_some());

    // Full: the upload fails with the server's OOM error; the breaker stays closed.
    let mut writer = tier.writer();
    let err = (0..100)
        .find_map(|_| writer.write(&[1u8; 100_000]).err())
        .or_else(|| {
            writer
                .finish("big", json!({}), Duration::from_secs(60))
                .err()
        });
    let err = err.expect("a 10 MB upload into 2 MB fails");
    assert_eq!(err.kind(), RemoteErrorKind::Server, "{err}");
    assert!(tier.lookup("big").is_none());
    assert!(!tier.stats().breaker_open);

    // Slow: a stopped server answers nothing; the lookup gives up after its timeout.
    server.signal("STOP");
    let started = Instant::now();
    let missed = tier.get("small").is_none();
    let waited = started.elapsed();
    server.signal("CONT");
    assert!(missed);
    assert!(
        waited < Duration::from_secs(2),
        "the lookup timeout bounds the wait: {waited:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while tier.get("small").is_none() {
        assert!(
            Instant::now() < deadline,
            "answers again once the server does"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_killed_server_is_a_miss_the_breaker_opens_and_the_tier_recovers_after_restart() {
    let Some(mut server) = RedisServer::start(&[]) else {
        return;
    };
    let tier = RemoteTier::connect(options(&server)).unwrap();
    put(&tier, "k", b"before");
    server.kill();
    for _ in 0..5 {
        assert!(tier.get("k").is_none());
    }
    let stats = tier.stats();
    assert!(stats.breaker_open, "{stats:?}");
    assert_eq!(stats.breaker_opened, 1);
    // While open, nothing is asked: uploads are refused at once, lookups miss at once.
    assert!(!tier.enqueue(UploadJob {
        key: "x".into(),
        meta: json!({}),
        fresh_for: Duration::from_secs(1),
        known: None,
        open: Box::new(|| Ok(Box::new(ReadSource(std::io::empty())) as _)),
        release_after: None,
    }));

    server.restart(); // no persistence: the data is gone, the server is back
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut writer = tier.writer();
        let stored = writer.write(b"after").is_ok()
            && writer
                .finish("k", json!({}), Duration::from_secs(60))
                .is_ok();
        if stored {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the tier recovers after the cool-down"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(read_all(&tier, "k").unwrap(), b"after");
    assert!(!tier.stats().breaker_open);
}

#[test]
fn a_server_killed_mid_stream_fails_the_read_and_leaves_no_partial_entry() {
    // Persistence on, so what the server had when it died is what it has after the restart.
    let Some(mut server) = RedisServer::start(&["--appendonly", "yes", "--appendfsync", "always"])
    else {
        return;
    };
    let tier = RemoteTier::connect(options(&server)).unwrap();
    let big = body(5, 8 * 1024 * 1024); // 128 chunks
    put(&tier, "whole", &big);

    // A read in progress when the server dies ends with an error, never a short "complete" body.
    let mut reader = tier.get("whole").unwrap();
    let mut got = 0usize;
    for _ in 0..10 {
        got += reader.next_chunk().unwrap().unwrap().len();
    }
    server.kill();
    let outcome = loop {
        match reader.next_chunk() {
            Ok(Some(chunk)) => got += chunk.len(),
            Ok(None) => break Ok(()),
            Err(err) => break Err(err),
        }
    };
    let err = outcome.expect_err("the read cannot complete");
    assert!(got < big.len());
    assert!(
        matches!(
            err.kind(),
            RemoteErrorKind::Connection | RemoteErrorKind::Timeout | RemoteErrorKind::Unavailable
        ),
        "{err:?}"
    );

    // An upload in progress when the server dies fails; after the restart there is no trace
    // of it but temporary chunks (which expire), and the earlier entry is intact.
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    while read_all(&tier, "whole").is_none() {
        assert!(Instant::now() < deadline, "recovers after the cool-down");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut writer = tier.writer();
    let mut stream = Stream::new(6, 8 * 1024 * 1024);
    let mut buf = vec![0u8; 256 * 1024];
    for _ in 0..8 {
        stream.read_exact(&mut buf).unwrap();
        writer.write(&buf).unwrap();
    }
    server.kill();
    let failed = (|| {
        loop {
            let n = stream.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            writer.write(&buf[..n])?;
        }
        writer.finish("partial", json!({}), Duration::from_secs(60))
    })();
    assert!(failed.is_err());
    server.launch();
    let manifests = server.keys("hsc:m:*");
    assert_eq!(
        manifests.len(),
        1,
        "only the complete body has a manifest: {manifests:?}"
    );
    assert_eq!(server.keys("hsc:k:*"), vec!["hsc:k:whole".to_string()]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let back = loop {
        if let Some(bytes) = read_all(&tier, "whole") {
            break bytes;
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(back, big);
    assert!(tier.get("partial").is_none());
}

// ---------------------------------------------------------------------------------------
// Child processes.

/// Runs this test binary's `child_entry` with `role` and the server URL; returns stdout lines.
fn spawn_child(role: &str, url: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_entry",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("REMOTE_CHILD_ROLE", role)
        .env("REMOTE_CHILD_URL", url)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Lines the child printed with the `@` marker (the test harness prints its own lines too).
fn child_output(child: Child) -> Vec<String> {
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    BufReader::new(&output.stdout[..])
        .lines()
        .map_while(Result::ok)
        // The harness prints `test child_entry ... ` on the line of the first output.
        .filter_map(|l| l.split_once('@').map(|(_, rest)| rest.to_string()))
        .collect()
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

const LARGE: u64 = 200 * 1024 * 1024;

#[test]
#[ignore = "runs only as a child process of the tests above"]
fn child_entry() {
    let (Ok(role), Ok(url)) = (
        std::env::var("REMOTE_CHILD_ROLE"),
        std::env::var("REMOTE_CHILD_URL"),
    ) else {
        return;
    };
    let mut opts = RemoteOptions::new(url);
    opts.max_body_size = 1 << 30;
    opts.lookup_timeout = Duration::from_millis(500);
    opts.op_timeout = Duration::from_secs(5);
    opts.chunk_size = 1024 * 1024;
    let tier = RemoteTier::connect(opts).unwrap();
    match role.as_str() {
        "large-put" => {
            let baseline = peak_rss_kib();
            let mut writer = tier.writer();
            let mut stream = Stream::new(7, LARGE);
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = stream.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                writer.write(&buf[..n]).unwrap();
            }
            writer
                .finish("large", json!({}), Duration::from_secs(600))
                .unwrap();
            println!("@baseline {baseline}");
            println!("@peak {}", peak_rss_kib());
        }
        "large-get" => {
            let baseline = peak_rss_kib();
            let mut reader = tier.get("large").expect("the large body is there");
            let mut expected = Stream::new(7, LARGE);
            let mut want = vec![0u8; 1024 * 1024];
            let mut total = 0u64;
            while let Some(chunk) = reader.next_chunk().unwrap() {
                expected.read_exact(&mut want[..chunk.len()]).unwrap();
                assert!(chunk == want[..chunk.len()], "bytes differ at {total}");
                total += chunk.len() as u64;
            }
            assert_eq!(total, LARGE);
            println!("@baseline {baseline}");
            println!("@peak {}", peak_rss_kib());
        }
        "waiter" => {
            match tier.try_lock("contended") {
                LockAttempt::Busy => println!("@busy"),
                LockAttempt::Acquired(_) => println!("@acquired"),
                LockAttempt::Unavailable => println!("@unavailable"),
            }
            match tier.wait_for("contended", Duration::from_secs(20)) {
                WaitOutcome::Stored(entry) => {
                    let mut reader = tier.open(entry).unwrap();
                    let mut bytes = Vec::new();
                    while let Some(chunk) = reader.next_chunk().unwrap() {
                        bytes.extend_from_slice(&chunk);
                    }
                    println!("@stored {}", String::from_utf8(bytes).unwrap());
                }
                other => println!("@{other:?}"),
            }
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn a_200_mib_body_streams_both_ways_with_bounded_memory() {
    let Some(server) = RedisServer::start(&[]) else {
        return;
    };
    let parse = |lines: Vec<String>| {
        let get = |name: &str| -> u64 {
            lines
                .iter()
                .find_map(|l| l.strip_prefix(name))
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        };
        (get("baseline"), get("peak"))
    };
    let (base_put, peak_put) = parse(child_output(spawn_child("large-put", &server.url())));
    let (base_get, peak_get) = parse(child_output(spawn_child("large-get", &server.url())));
    eprintln!("200 MiB through the shared tier: peak RSS put {peak_put} KiB (from {base_put}), get {peak_get} KiB (from {base_get})");
    // The body is 204800 KiB; each side may hold a handful of 1 MiB chunks.
    for (base, peak) in [(base_put, peak_put), (base_get, peak_get)] {
        assert!(
            peak - base < 32 * 1024,
            "peak RSS grew by {} KiB",
            peak - base
        );
    }
}

#[test]
fn one_process_fetches_while_another_waits_then_reads_from_the_tier() {
    let Some(server) = RedisServer::start(&[]) else {
        return;
    };
    let tier = RemoteTier::connect(options(&server)).unwrap();

    // The holder stores the entry: the waiter reads it.
    let LockAttempt::Acquired(lock) = tier.try_lock("contended") else {
        panic!("the lock is free")
    };
    assert!(
        lock.extend(Duration::from_secs(30)).unwrap(),
        "the holder can keep it longer"
    );
    let ttl: i64 = redis::cmd("PTTL")
        .arg("hsc:l:contended")
        .query(&mut server.conn())
        .unwrap();
    assert!(ttl > 10_000, "extended past the default 10 s: {ttl}");
    let child = spawn_child("waiter", &server.url());
    std::thread::sleep(Duration::from_millis(300)); // the origin fetch
    put(&tier, "contended", b"from the holder");
    assert!(lock.release().unwrap());
    assert_eq!(
        child_output(child),
        vec!["busy".to_string(), "stored from the holder".to_string()]
    );

    // The holder gives up without storing: the waiter is told at once instead of timing out.
    assert!(tier.remove("contended").unwrap());
    let LockAttempt::Acquired(lock) = tier.try_lock("contended") else {
        panic!("the lock is free again")
    };
    let child = spawn_child("waiter", &server.url());
    std::thread::sleep(Duration::from_millis(300));
    drop(lock); // released in the background, as when a fetch fails
    assert_eq!(
        child_output(child),
        vec!["busy".to_string(), "Released".to_string()]
    );

    // The holder hands its lock to the background upload: waiters are released by the
    // upload finishing, and then find the entry.
    assert!(
        !tier.remove("contended").unwrap(),
        "the holder that gave up stored nothing"
    );
    let LockAttempt::Acquired(lock) = tier.try_lock("contended") else {
        panic!("free again")
    };
    let child = spawn_child("waiter", &server.url());
    std::thread::sleep(Duration::from_millis(300));
    assert!(tier.enqueue(UploadJob {
        key: "contended".into(),
        meta: json!({}),
        fresh_for: Duration::from_secs(60),
        known: None,
        open: Box::new(|| Ok(
            Box::new(ReadSource(std::io::Cursor::new(b"written behind".to_vec()))) as _
        )),
        release_after: Some(lock),
    }));
    assert_eq!(
        child_output(child),
        vec!["busy".to_string(), "stored written behind".to_string()]
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.keys("hsc:l:*").is_empty() {
        assert!(
            Instant::now() < deadline,
            "the lock is released after the upload"
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    let stats = tier.stats();
    assert_eq!(stats.locks_acquired, 3);
}

#[test]
fn bad_options_are_rejected_before_connecting() {
    let mut opts = RemoteOptions::new("not a url");
    assert_eq!(
        RemoteTier::connect(opts.clone()).err().unwrap().code(),
        "ERR_INVALID_ARG_VALUE"
    );
    opts.url = "redis://127.0.0.1:1".into();
    opts.chunk_size = 1000;
    assert_eq!(
        RemoteTier::connect(opts.clone()).err().unwrap().code(),
        "ERR_OUT_OF_RANGE"
    );
    opts.chunk_size = 65536;
    // Nothing listens on port 1: connecting succeeds (lazily) and every call is a miss.
    let tier = RemoteTier::connect(opts).unwrap();
    assert!(tier.get("k").is_none());
    assert!(tier.stats().errors >= 1);
}
