//! One subscriber: a raw TCP connection that sends the stream `GET` and reads events until told
//! to stop.
//!
//! Each subscriber is one task owning its socket, its parsers and its [`Tally`]. It connects
//! (from a spread of loopback source addresses, so one machine can open more connections to a
//! port than one source address has ports), reads the response head, and counts as ready at
//! the head or, for hubs that announce a live subscription, at the first event. It then reads
//! until the pool sends the finish signal and either everything acknowledged has arrived or the
//! drain deadline passes — or until the server closes the stream, in which case it still waits
//! for the finish signal so that what it missed counts as lost.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;

use super::tally::{Counts, Tally};
use crate::measure::latency::{Latency, LatencyBatch};
use crate::measure::seqset::SeqSet;
use crate::target::StreamEndpoint;
use crate::wire::http1::{self, BodyDecoder, HttpError};
use crate::wire::sse::{Frame, SseError, SseParser};

/// What every subscriber of a pool shares. Owned by the pool through an `Arc`; lives until the
/// last subscriber task ends.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Where to connect.
    pub(crate) endpoint: StreamEndpoint,
    /// The request bytes.
    pub(crate) request: Vec<u8>,
    /// The run whose events count as deliveries.
    pub(crate) run: Option<u32>,
    /// How many loopback source addresses to spread over (0: let the kernel choose).
    pub(crate) source_ips: u8,
    /// Bytes read from the socket at a time.
    pub(crate) read_buffer: usize,
    /// Limits connection attempts in flight, so a burst does not overflow the listen backlog.
    pub(crate) connect_limit: Semaphore,
    /// Subscribers not connected by then count as failed.
    pub(crate) connect_deadline: Instant,
    /// The latency histogram all subscribers of this process record into.
    pub(crate) latency: Arc<Mutex<Latency>>,
}

/// Tells a subscriber that publishing is over: what was acknowledged, and how long to wait.
#[derive(Debug)]
pub(crate) struct Finish {
    /// Every acknowledged sequence number.
    pub(crate) acked: Arc<SeqSet>,
    /// Stop waiting for missing events at this time.
    pub(crate) deadline: Instant,
}

/// How one subscriber ended.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Whether it connected at all.
    pub(crate) connected: bool,
    /// Whether the server ended the stream (or it broke) before the subscriber was done.
    pub(crate) closed_early: bool,
    /// What went wrong, if anything.
    pub(crate) error: Option<String>,
    /// What it received.
    pub(crate) counts: Counts,
    /// The `id:` of the last event of the run it received.
    pub(crate) last_id: Option<String>,
}

#[derive(Debug, Error)]
enum StreamError {
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error(transparent)]
    Sse(#[from] SseError),
}

/// An established stream: the socket and the parsers positioned after the head.
struct Stream {
    socket: TcpStream,
    body: BodyDecoder,
    sse: SseParser,
    buf: Vec<u8>,
}

/// Runs subscriber `index` to the end, reporting readiness on `ready`.
pub(crate) async fn run(
    index: usize,
    shared: Arc<Shared>,
    ready: mpsc::UnboundedSender<Result<(), String>>,
    mut finish: watch::Receiver<Option<Arc<Finish>>>,
) -> Outcome {
    let mut tally = Tally::new(shared.run, LatencyBatch::new(shared.latency.clone()));
    let opened = tokio::time::timeout_at(shared.connect_deadline, open(index, &shared, &mut tally));
    let stream = match opened.await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => return failed(&ready, format!("{error:#}")),
        Err(_) => return failed(&ready, "not connected before the connect timeout".into()),
    };
    // The pool may have given up waiting; the subscriber then still reads until finish.
    let _ = ready.send(Ok(()));

    let mut outcome = Outcome {
        connected: true,
        ..Outcome::default()
    };
    if let Err(error) = follow(stream, &mut tally, &mut finish).await {
        outcome.closed_early = true;
        outcome.error = error;
        // What this subscriber missed still counts as lost once the acknowledged set is known.
        if tally.missing().is_none()
            && let Ok(finish) = finish.wait_for(Option::is_some).await
            && let Some(finish) = finish.as_ref()
        {
            tally.expect(finish.acked.clone());
        }
    }
    outcome.last_id = tally.last_id();
    outcome.counts = tally.finish();
    outcome
}

fn failed(ready: &mpsc::UnboundedSender<Result<(), String>>, error: String) -> Outcome {
    let _ = ready.send(Err(error.clone()));
    Outcome {
        error: Some(error),
        ..Outcome::default()
    }
}

/// Connects, sends the request, and reads until the stream counts as ready.
async fn open(index: usize, shared: &Shared, tally: &mut Tally) -> Result<Stream> {
    let permit = shared
        .connect_limit
        .acquire()
        .await
        .context("connect limit closed")?;
    let source = source_ip(index, shared.endpoint.addr, shared.source_ips);
    let mut socket = connect(shared.endpoint.addr, source).await?;
    socket
        .write_all(&shared.request)
        .await
        .context("sending the request")?;

    let (head, rest) = read_head(&mut socket).await?;
    if head.status != 200 {
        bail!("stream answered HTTP {}", head.status);
    }
    drop(permit);

    let mut stream = Stream {
        socket,
        body: BodyDecoder::new(head.framing),
        sse: SseParser::new(),
        buf: vec![0; shared.read_buffer],
    };
    stream.consume(&rest, tally)?;
    while shared.endpoint.ready_on_first_event && tally.frames() == 0 {
        if !stream.read_some(tally).await? {
            bail!("stream ended before its first event");
        }
    }
    Ok(stream)
}

/// Reads the response head, returning it and whatever of the body came with it.
async fn read_head(socket: &mut TcpStream) -> Result<(http1::ResponseHead, Vec<u8>)> {
    let mut buf = vec![0; http1::MAX_HEAD + 1];
    let mut filled = 0;
    loop {
        let read = socket
            .read(&mut buf[filled..])
            .await
            .context("reading the response head")?;
        if read == 0 {
            bail!("connection closed before the response head");
        }
        filled += read;
        if let Some((head, head_len)) = http1::parse_head(&buf[..filled])? {
            return Ok((head, buf[head_len..filled].to_vec()));
        }
    }
}

/// Reads the established stream until finish is complete; `Err` if it ended early.
async fn follow(
    mut stream: Stream,
    tally: &mut Tally,
    finish: &mut watch::Receiver<Option<Arc<Finish>>>,
) -> Result<(), Option<String>> {
    let mut deadline = None;
    loop {
        if let Some(finish) = finish
            .borrow_and_update()
            .as_ref()
            .filter(|_| deadline.is_none())
        {
            tally.expect(finish.acked.clone());
            deadline = Some(finish.deadline);
        }
        if tally.missing() == Some(0) || deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(());
        }

        let far = Instant::now() + std::time::Duration::from_secs(86_400);
        tokio::select! {
            read = stream.read_some(tally) => match read {
                Ok(true) => {}
                Ok(false) => return Err(None),
                Err(error) => return Err(Some(format!("{error:#}"))),
            },
            changed = finish.changed(), if deadline.is_none() => {
                if changed.is_err() {
                    return Err(Some("the pool went away".into()));
                }
            }
            () = tokio::time::sleep_until(deadline.unwrap_or(far)), if deadline.is_some() => {}
        }
    }
}

impl Stream {
    /// Reads once and accounts for what arrived; false when the stream has ended.
    async fn read_some(&mut self, tally: &mut Tally) -> Result<bool> {
        if self.body.is_done() {
            return Ok(false);
        }
        let read = self
            .socket
            .read(&mut self.buf)
            .await
            .context("reading the stream")?;
        if read == 0 {
            return Ok(false);
        }
        let Stream { body, sse, buf, .. } = self;
        Self::decode(body, sse, &buf[..read], tally)?;
        Ok(!body.is_done())
    }

    /// Accounts for bytes already read (the part of the first read after the head).
    fn consume(&mut self, bytes: &[u8], tally: &mut Tally) -> Result<()> {
        Self::decode(&mut self.body, &mut self.sse, bytes, tally)
    }

    fn decode(
        body: &mut BodyDecoder,
        sse: &mut SseParser,
        bytes: &[u8],
        tally: &mut Tally,
    ) -> Result<()> {
        // One clock read per socket read: every frame in it arrived at the same moment.
        let now_ns = crate::wire::payload::now_ns();
        let mut on_frame = |frame: Frame<'_>| tally.on_frame(frame, now_ns);
        body.decode(bytes, &mut |piece: &[u8]| -> Result<(), StreamError> {
            Ok(sse.feed(piece, &mut on_frame)?)
        })?;
        Ok(())
    }
}

/// The source address for subscriber `index`: 127.0.0.x, x cycling through `1..=spread`,
/// when the server is on IPv4 loopback and spreading is on.
pub(crate) fn source_ip(index: usize, server: SocketAddr, spread: u8) -> Option<IpAddr> {
    let SocketAddr::V4(server) = server else {
        return None;
    };
    if spread == 0 || !server.ip().is_loopback() {
        return None;
    }
    let last = 1 + (index % usize::from(spread)) as u8;
    Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
}

/// Opens a TCP connection to `server`, from `source` if given.
pub(crate) async fn connect(server: SocketAddr, source: Option<IpAddr>) -> Result<TcpStream> {
    let socket = if server.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .context("creating a socket (out of file descriptors? raise --procs)")?;
    if let Some(source) = source {
        socket
            .bind(SocketAddr::new(source, 0))
            .with_context(|| format!("binding source address {source}"))?;
    }
    let stream = socket
        .connect(server)
        .await
        .with_context(|| format!("connecting to {server}"))?;
    stream.set_nodelay(true).context("setting TCP_NODELAY")?;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_cycle_through_loopback_addresses_only_for_loopback_servers() {
        let local: SocketAddr = "127.0.0.1:4318".parse().expect("addr");
        let first = source_ip(0, local, 250).expect("spread");
        assert_eq!(first, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(
            source_ip(249, local, 250),
            Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 250)))
        );
        assert_eq!(source_ip(250, local, 250), Some(first));
        assert_eq!(source_ip(5, local, 0), None);
        assert_eq!(source_ip(5, "[::1]:4318".parse().expect("addr"), 250), None);
    }
}
