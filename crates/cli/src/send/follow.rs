//! `--follow`: a file read as it grows, across rotation and truncation, like `tail -F`.
//!
//! Polling, not file-system events: at the end of the file the follower sleeps [`POLL`] and
//! reads again, and every [`CHECK`] it compares the file it holds open with the path:
//! - **truncation** (`copytruncate`, `> file`): the open file is now shorter than what was
//!   read from it. Reading starts again from its beginning.
//! - **rotation** (rename, then a new file at the path): the path names another file
//!   (device and inode differ). The old file is read to its end first, then the new one from
//!   its beginning. While nothing is at the path yet, the old file is still followed.
//!
//! Either way a partial last line of the old content ends as a line of its own, and line
//! numbers start again from 1. A file truncated and then written past the old length within
//! one check is not noticed as truncated, as with `tail -F`.

use std::fs::{File, Metadata};
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::input::{Chunk, open, read_chunk};

/// How long the follower sleeps at the end of the file before reading again.
const POLL: Duration = Duration::from_millis(100);

/// How often the follower looks for rotation and truncation.
const CHECK: Duration = Duration::from_millis(250);

/// A file being followed.
#[derive(Debug)]
pub(super) struct Follower {
    /// The path given; after a rotation it names a newer file than [`Follower::file`].
    path: PathBuf,
    /// The file being read.
    file: File,
    /// Device and inode of [`Follower::file`].
    identity: (u64, u64),
    /// How many bytes of [`Follower::file`] were read.
    offset: u64,
}

/// Whether the batcher still takes chunks.
type Open = bool;

impl Follower {
    /// Opens `path` to follow it from its beginning.
    pub(super) fn open(path: PathBuf) -> anyhow::Result<Follower> {
        let file = open(&path)?;
        let metadata = file
            .metadata()
            .with_context(|| format!("reading the metadata of {}", path.display()))?;
        Ok(Follower {
            identity: identity(&metadata),
            path,
            file,
            offset: 0,
        })
    }

    /// Follows the file until `stop` is set or the batcher goes away.
    pub(super) fn run(mut self, sender: &SyncSender<Chunk>, stop: &AtomicBool) {
        if let Err(error) = self.follow(sender, stop) {
            let _ = sender.send(Chunk::Failed(error));
        }
    }

    fn follow(&mut self, sender: &SyncSender<Chunk>, stop: &AtomicBool) -> anyhow::Result<()> {
        let mut last_check = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            if !self.read_to_end(sender, stop)? {
                return Ok(());
            }
            if last_check.elapsed() >= CHECK {
                last_check = Instant::now();
                if !self.check(sender, stop)? {
                    return Ok(());
                }
                continue;
            }
            std::thread::sleep(POLL);
        }
        Ok(())
    }

    /// Reads and hands over everything up to the current end of the file.
    fn read_to_end(
        &mut self,
        sender: &SyncSender<Chunk>,
        stop: &AtomicBool,
    ) -> anyhow::Result<Open> {
        while !stop.load(Ordering::Relaxed) {
            let chunk = read_chunk(&mut self.file)
                .with_context(|| format!("reading {}", self.path.display()))?;
            let Some(chunk) = chunk else { break };
            self.offset += chunk.len() as u64;
            if sender.send(Chunk::Data(chunk)).is_err() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Notices truncation and rotation, and switches to reading what the path now holds.
    fn check(&mut self, sender: &SyncSender<Chunk>, stop: &AtomicBool) -> anyhow::Result<Open> {
        let length = self.file.metadata().map(|metadata| metadata.len());
        if length.is_ok_and(|length| length < self.offset) {
            self.file
                .seek(SeekFrom::Start(0))
                .with_context(|| format!("rewinding {} after truncation", self.path.display()))?;
            self.offset = 0;
            return Ok(sender.send(Chunk::FileChanged).is_ok());
        }

        let at_path = match std::fs::metadata(&self.path) {
            Ok(metadata) => identity(&metadata),
            // Renamed away, and nothing new there yet: keep following the old file.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(true),
            Err(error) => {
                return Err(error).with_context(|| format!("checking {}", self.path.display()));
            }
        };
        if at_path == self.identity {
            return Ok(true);
        }
        self.switch(sender, stop)
    }

    /// Reads the rotated file to its end, then opens the new file at the path.
    fn switch(&mut self, sender: &SyncSender<Chunk>, stop: &AtomicBool) -> anyhow::Result<Open> {
        if !self.read_to_end(sender, stop)? {
            return Ok(false);
        }
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(true),
            Err(error) => {
                return Err(error).with_context(|| format!("opening {}", self.path.display()));
            }
        };
        let metadata = file
            .metadata()
            .with_context(|| format!("reading the metadata of {}", self.path.display()))?;
        self.file = file;
        self.identity = identity(&metadata);
        self.offset = 0;
        Ok(sender.send(Chunk::FileChanged).is_ok())
    }
}

/// Device and inode: what tells two files at one path apart.
fn identity(metadata: &Metadata) -> (u64, u64) {
    (metadata.dev(), metadata.ino())
}
