//! Events to store, a log whose listener records what it hears, and child processes.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Map;
use tracetail_model::{EncodedEvent, Level, LogEvent, TraceId};
use tracetail_store::embedded::{EmbeddedLog, EmbeddedOptions};
use tracetail_store::{CommitListener, CommittedBatch, EventLog, ReadRequest, Record, StoreError};

/// An event of `service` at `level`, in trace `[trace; 16]` if given.
pub(crate) fn event(service: &str, level: Level, message: &str, trace: Option<u8>) -> EncodedEvent {
    LogEvent {
        ts_nanos: 1_700_000_000_000_000_000,
        level,
        severity: level.severity(),
        message: message.into(),
        service: service.into(),
        trace_id: trace.map(|byte| TraceId([byte; 16])),
        span_id: None,
        attributes: Map::new(),
        resource: Map::new(),
    }
    .encode()
}

/// An INFO event of service `app`, in no trace.
pub(crate) fn info(message: &str) -> EncodedEvent {
    event("app", Level::Info, message, None)
}

/// `count` INFO events numbered from `first` in their message.
pub(crate) fn infos(first: usize, count: usize) -> Vec<EncodedEvent> {
    (first..first + count)
        .map(|n| info(&format!("event {n}")))
        .collect()
}

/// Generous retention in `dir`.
pub(crate) fn options(dir: &Path) -> EmbeddedOptions {
    EmbeddedOptions {
        dir: dir.to_path_buf(),
        retention_age: Duration::from_secs(7 * 24 * 3600),
        retention_size: 1 << 30,
    }
}

/// An open log and every batch its listener heard.
pub(crate) struct TestLog {
    pub(crate) log: Arc<EmbeddedLog>,
    pub(crate) heard: Arc<Mutex<Vec<CommittedBatch>>>,
}

impl TestLog {
    /// Opens `dir` with generous retention.
    pub(crate) fn open(dir: &Path) -> TestLog {
        TestLog::open_with(options(dir)).expect("open log")
    }

    /// Opens with these options.
    pub(crate) fn open_with(options: EmbeddedOptions) -> Result<TestLog, StoreError> {
        let heard = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&heard);
        let listener: CommitListener =
            Arc::new(move |batch| sink.lock().expect("listener lock").push(Arc::clone(batch)));
        let log = EmbeddedLog::open(options, listener)?;
        Ok(TestLog { log, heard })
    }

    /// The sequence numbers of each batch heard, in the order heard.
    pub(crate) fn heard_seqs(&self) -> Vec<Vec<u64>> {
        let heard = self.heard.lock().expect("listener lock");
        heard
            .iter()
            .map(|batch| batch.iter().map(|record| record.seq).collect())
            .collect()
    }
}

/// Every record of the log, oldest first.
pub(crate) async fn read_all(log: &EmbeddedLog) -> Vec<Record> {
    log.read(ReadRequest::default())
        .await
        .expect("read")
        .records
}

/// A record's JSON as a value.
pub(crate) fn json(record: &Record) -> serde_json::Value {
    serde_json::from_slice(&record.json).expect("record JSON")
}

/// The sequence numbers of some records.
pub(crate) fn seqs(records: &[Record]) -> Vec<u64> {
    records.iter().map(|record| record.seq).collect()
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; whether it held.
pub(crate) async fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    condition()
}

/// This test binary, run again as a child process that does one thing to a data directory.
pub(crate) mod child {
    use std::path::Path;
    use std::process::{Command, Output};

    use tracetail_store::EventLog;
    use tracetail_store::StoreError;

    use super::{TestLog, infos, options};

    const MODE: &str = "TRACETAIL_TEST_CHILD_MODE";
    const DIR: &str = "TRACETAIL_TEST_CHILD_DIR";

    /// What a child process does.
    #[derive(Debug, Clone, Copy)]
    pub(crate) enum Mode {
        /// Appends 5 times 10 events, prints `acked <latest>`, then aborts without closing.
        AppendThenAbort,
        /// Tries to open the log and prints `in use`, `opened` or the error.
        TryOpen,
    }

    impl Mode {
        fn name(self) -> &'static str {
            match self {
                Mode::AppendThenAbort => "append-then-abort",
                Mode::TryOpen => "try-open",
            }
        }
    }

    /// Runs a child on `dir` and returns what it printed (and how it ended).
    pub(crate) fn run(mode: Mode, dir: &Path) -> (String, Output) {
        let exe = std::env::current_exe().expect("test binary path");
        let output = Command::new(exe)
            .args([
                "--exact",
                "support::child::entry_point_does_nothing_unless_asked",
            ])
            .args(["--nocapture", "--test-threads=1"])
            .env(MODE, mode.name())
            .env(DIR, dir)
            .output()
            .expect("run child");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        (stdout, output)
    }

    #[test]
    fn entry_point_does_nothing_unless_asked() {
        let (Ok(mode), Some(dir)) = (std::env::var(MODE), std::env::var_os(DIR)) else {
            return;
        };
        let dir = Path::new(&dir);
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        match mode.as_str() {
            "append-then-abort" => runtime.block_on(append_then_abort(dir)),
            "try-open" => match TestLog::open_with(options(dir)) {
                Ok(_) => println!("child: opened"),
                Err(StoreError::InUse { .. }) => println!("child: in use"),
                Err(error) => println!("child: {error}"),
            },
            other => panic!("unknown child mode {other}"),
        }
    }

    async fn append_then_abort(dir: &Path) {
        let test_log = TestLog::open(dir);
        let mut latest = 0;
        for round in 0..5 {
            latest = *test_log
                .log
                .append(infos(round * 10, 10))
                .await
                .expect("append")
                .end();
        }
        println!("child: acked {latest}");
        std::process::abort();
    }
}
