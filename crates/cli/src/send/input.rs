//! Where the lines come from: stdin, a file read once, or a file followed like `tail -F`.
//!
//! Reading runs on its own thread, so a blocking read of stdin never holds up batching or
//! sending. It hands chunks of bytes, as read, to the batcher over a bounded channel: when
//! the hub is slow or down, the channel fills, reading pauses, and a program writing into
//! `send`'s stdin waits in turn. Nothing is dropped. The thread ends at the end of the input
//! (the channel closes) or when asked to stop; a thread blocked reading stdin is left to end
//! with the process.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use anyhow::Context;

use super::follow::Follower;

/// How many bytes one read takes at most.
pub(super) const CHUNK_BYTES: usize = 64 * 1024;

/// How many chunks may wait for the batcher.
const QUEUED_CHUNKS: usize = 16;

/// What `send` reads.
#[derive(Debug, Clone)]
pub(super) enum Source {
    /// Standard input, to its end.
    Stdin,
    /// A file, to its end.
    File(PathBuf),
    /// A file, followed across growth, rotation and truncation until interrupted.
    Follow(PathBuf),
}

/// What the reading thread hands over.
#[derive(Debug)]
pub(super) enum Chunk {
    /// Bytes, in input order.
    Data(Vec<u8>),
    /// The followed file was rotated or truncated: a partial line ends here, and line numbers
    /// start again from 1.
    FileChanged,
    /// Reading failed; nothing more comes.
    Failed(anyhow::Error),
}

/// Opens `source` and starts reading it on a thread of its own.
///
/// A file that cannot be opened fails here, before anything is sent. `stop` ends the reading
/// at the next chunk (files) or at the next line stdin gives.
pub(super) fn spawn(source: Source, stop: Arc<AtomicBool>) -> anyhow::Result<Receiver<Chunk>> {
    let (sender, receiver) = sync_channel(QUEUED_CHUNKS);
    let reader: Box<dyn FnOnce() + Send> = match source {
        Source::Stdin => {
            Box::new(move || read_to_end(std::io::stdin().lock(), "stdin", &sender, &stop))
        }
        Source::File(path) => {
            let file = open(&path)?;
            let name = path.display().to_string();
            Box::new(move || read_to_end(file, &name, &sender, &stop))
        }
        Source::Follow(path) => {
            let follower = Follower::open(path)?;
            Box::new(move || follower.run(&sender, &stop))
        }
    };
    std::thread::Builder::new()
        .name("send-input".to_string())
        .spawn(reader)
        .context("starting the input thread")?;
    Ok(receiver)
}

/// Opens a file for reading, naming it in the error.
pub(super) fn open(path: &std::path::Path) -> anyhow::Result<File> {
    File::open(path).with_context(|| format!("opening {}", path.display()))
}

/// Reads `input` (called `name` in errors) to its end in chunks.
fn read_to_end(mut input: impl Read, name: &str, sender: &SyncSender<Chunk>, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match read_chunk(&mut input) {
            Ok(Some(chunk)) => {
                if sender.send(Chunk::Data(chunk)).is_err() {
                    return;
                }
            }
            Ok(None) => return,
            Err(error) => {
                let error = anyhow::Error::new(error).context(format!("reading {name}"));
                let _ = sender.send(Chunk::Failed(error));
                return;
            }
        }
    }
}

/// One read of up to [`CHUNK_BYTES`]; `None` at the end of the input.
pub(super) fn read_chunk(input: &mut impl Read) -> std::io::Result<Option<Vec<u8>>> {
    let mut chunk = vec![0; CHUNK_BYTES];
    loop {
        match input.read(&mut chunk) {
            Ok(0) => return Ok(None),
            Ok(length) => {
                chunk.truncate(length);
                return Ok(Some(chunk));
            }
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}
