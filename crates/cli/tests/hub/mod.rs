//! Starting a real `tracetail serve` for the command-line tests.
//!
//! The hub is started on port 0 unless a test needs a fixed port (to restart on it), and it is
//! ready once its start-up banner names the address it bound. Waiting for a TCP connect to
//! succeed instead is not enough: on loopback a connect to a free port in the ephemeral range
//! can connect to itself, and a port picked free beforehand can be taken by another test.
// Each test crate that includes this module uses only part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a hub may take to print its banner.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Starts `tracetail serve` on `127.0.0.1:port` (0: any free port) over `data_dir`, with
/// `extra` flags, and returns the child and the port it listens on once it takes connections.
pub(crate) fn serve(port: u16, data_dir: &Path, extra: &[&str]) -> (Child, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tracetail"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn tracetail serve");

    // Read the banner's first line, then keep draining stdout so the hub never sees a closed pipe.
    let stdout = child.stdout.take().expect("stdout is piped");
    let (banner_tx, banner_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = banner_tx.send(line);
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });

    let banner = banner_rx.recv_timeout(START_TIMEOUT).unwrap_or_default();
    match bound_port(&banner) {
        Some(bound) => (child, bound),
        None => {
            let _ = child.kill();
            let status = child.wait().expect("wait for the hub");
            panic!("hub on port {port} did not start ({status}); its stdout began: {banner:?}");
        }
    }
}

/// The port in a banner line `tracetail listening on http://127.0.0.1:PORT, data in …`.
fn bound_port(banner: &str) -> Option<u16> {
    let after = banner.split("listening on http://127.0.0.1:").nth(1)?;
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Sends a signal by name (`TERM`, `INT`) to a process.
pub(crate) fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{name} {pid}");
}
