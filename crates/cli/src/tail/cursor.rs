//! The resume point of `tail`: the cursor of the last event printed, and the `--cursor-file`
//! that keeps it across runs.
//!
//! The file holds one cursor and a line feed. It is read once at start and replaced
//! atomically (write a temporary file beside it, fsync, rename), so a crash leaves either the
//! old cursor or the new one, never half of one. Writes are throttled to one per
//! [`SAVE_INTERVAL`]; the caller saves once more at exit.
//!
//! Only a cursor whose line has been flushed to stdout is saved: a resumed `tail` may repeat
//! the lines a vanished reader never took, but never skips a line it did not print.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The shortest time between two writes of the cursor file.
pub(super) const SAVE_INTERVAL: Duration = Duration::from_millis(100);

/// The longest cursor the wire contract allows.
const MAX_CURSOR_LEN: usize = 64;

/// Where a stream would resume, and the file that keeps it.
#[derive(Debug)]
pub(super) struct ResumePoint {
    /// The cursor of the last event handed to the printer, not necessarily flushed yet.
    printed: Option<String>,
    /// The cursor of the last event known to be written to stdout.
    flushed: Option<String>,
    /// `--cursor-file`, if given.
    file: Option<PathBuf>,
    /// What the file holds now.
    saved: Option<String>,
    /// When the file was last written.
    saved_at: Instant,
    /// A write of the file failed and its error went to the caller: no later write is tried,
    /// so the error is reported once.
    unwritable: bool,
}

impl ResumePoint {
    /// The resume point at start: the cursor in `file` if it exists and holds one, else none.
    pub(super) fn load(file: Option<PathBuf>) -> anyhow::Result<ResumePoint> {
        let saved = match &file {
            Some(path) => read_cursor(path)?,
            None => None,
        };
        Ok(ResumePoint {
            printed: saved.clone(),
            flushed: saved.clone(),
            file,
            saved,
            saved_at: Instant::now(),
            unwritable: false,
        })
    }

    /// The cursor a new stream should resume after.
    pub(super) fn current(&self) -> Option<&str> {
        self.printed.as_deref()
    }

    /// Moves the resume point past an event that was printed (or that the stream moved past).
    pub(super) fn advance(&mut self, cursor: &str) {
        if !cursor.is_empty() && self.printed.as_deref() != Some(cursor) {
            self.printed = Some(cursor.to_string());
        }
    }

    /// Records that everything printed so far reached stdout.
    pub(super) fn flushed(&mut self) {
        self.flushed.clone_from(&self.printed);
    }

    /// When the file should next be written, if it is behind what reached stdout.
    pub(super) fn save_due(&self) -> Option<Instant> {
        let behind = self.file.is_some() && !self.unwritable && self.flushed != self.saved;
        behind.then(|| self.saved_at + SAVE_INTERVAL)
    }

    /// Writes the file if it is behind and the last write is [`SAVE_INTERVAL`] ago.
    pub(super) fn save_if_due(&mut self, now: Instant) -> anyhow::Result<()> {
        match self.save_due() {
            Some(due) if due <= now => self.save(),
            _ => Ok(()),
        }
    }

    /// Writes the file now if it is behind what reached stdout.
    pub(super) fn save(&mut self) -> anyhow::Result<()> {
        let (Some(path), Some(cursor)) = (&self.file, &self.flushed) else {
            return Ok(());
        };
        if self.unwritable || self.saved.as_ref() == Some(cursor) {
            return Ok(());
        }
        if let Err(error) = write_atomically(path, cursor) {
            self.unwritable = true;
            return Err(error).with_context(|| format!("writing cursor file {}", path.display()));
        }
        self.saved = Some(cursor.clone());
        self.saved_at = Instant::now();
        Ok(())
    }
}

/// The cursor in `path`; `None` when the file does not exist or is blank.
fn read_cursor(path: &Path) -> anyhow::Result<Option<String>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(error).with_context(|| format!("reading cursor file {}", path.display()));
        }
    };
    let cursor = text.trim();
    if cursor.is_empty() {
        return Ok(None);
    }
    if !is_cursor(cursor) {
        bail!(
            "cursor file {} does not hold a cursor (at most {MAX_CURSOR_LEN} characters from \
             [0-9A-Za-z._:-]): {cursor:?}",
            path.display()
        );
    }
    Ok(Some(cursor.to_string()))
}

/// Whether `text` has the shape of a stream cursor.
fn is_cursor(text: &str) -> bool {
    text.len() <= MAX_CURSOR_LEN
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"._:-".contains(&byte))
}

/// Replaces `path` with `cursor` and a line feed: temporary file, fsync, rename, fsync of the
/// directory.
fn write_atomically(path: &Path, cursor: &str) -> io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".tmp-{}", std::process::id()));
    let temporary = PathBuf::from(temporary);

    let mut file = fs::File::create(&temporary)?;
    file.write_all(format!("{cursor}\n").as_bytes())?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temporary, path)?;

    // The rename itself is durable once the directory is.
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    fs::File::open(directory)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_blank_file_means_no_cursor_and_a_saved_one_is_read_back() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("cursor");
        let mut point = ResumePoint::load(Some(path.clone())).expect("missing file");
        assert_eq!(point.current(), None);

        point.advance("ab12-7");
        assert_eq!(point.save_due(), None, "nothing reached stdout yet");
        point.flushed();
        point.save().expect("save");
        assert_eq!(fs::read_to_string(&path).expect("read"), "ab12-7\n");
        let reloaded = ResumePoint::load(Some(path.clone())).expect("reload");
        assert_eq!(reloaded.current(), Some("ab12-7"));

        fs::write(&path, "  \n").expect("blank");
        let blank = ResumePoint::load(Some(path)).expect("blank file");
        assert_eq!(blank.current(), None);
    }

    #[test]
    fn saving_waits_for_the_interval_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("cursor");
        let mut point = ResumePoint::load(Some(path.clone())).expect("load");
        point.advance("a-1");
        point.flushed();
        let due = point.save_due().expect("behind");
        point
            .save_if_due(due - Duration::from_millis(1))
            .expect("early");
        assert!(!path.exists(), "saved before the interval");
        point.save_if_due(due).expect("due");
        assert!(path.exists());
        assert_eq!(point.save_due(), None, "up to date");
        let names: Vec<_> = fs::read_dir(dir.path()).expect("list").collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn a_file_holding_something_else_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("cursor");
        fs::write(&path, "not a cursor\n").expect("write");
        let error = ResumePoint::load(Some(path)).expect_err("not a cursor");
        let message = format!("{error:#}");
        assert!(
            message.contains("cursor file") && message.contains("not a cursor"),
            "{message}"
        );
    }
}
