//! One proxied connection: client ⇄ proxy ⇄ upstream.
//!
//! As in Toxiproxy (and noxious) each connection has two pipes, upstream
//! (client → server) and downstream (server → client), each through the
//! chain of toxics for that stream. Unlike them, one task owns both pipes
//! and both sockets: it reads, writes and sleeps until the next toxic is
//! due in a single `select!`. Owning everything in one place is what makes
//! the three things that need both sides simple: a toxic closing the whole
//! connection, `reset_peer` (SO_LINGER 0 on both sockets, then drop), and
//! applying toxic changes to a live connection between two reads.
//!
//! Ends of streams: a FIN from one peer is passed on as a half-close
//! (`shutdown(Write)`) once the data ahead of it has been delivered, and the
//! other direction carries on; a close decided by a toxic (`limit_data`,
//! `timeout`) or a socket error ends both directions, after each has
//! delivered what its toxics still hold.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use socket2::SockRef;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::model::Stream;
use crate::proxy::{ToxicEntry, ToxicSet};
use crate::toxics::{stage_for, Item, Passthrough, Stage};

/// Go's io.Copy buffer size, which Toxiproxy's chunks are cut to.
const READ_SIZE: usize = 32 * 1024;
/// A direction stops reading its source while its toxics and write queue
/// hold this much, so a slow toxic (bandwidth) pushes back on the sender
/// instead of buffering without bound.
const MAX_BUFFERED: usize = 1024 * 1024;

/// Runs one accepted connection until both directions are done.
pub(crate) async fn serve(
    mut client: TcpStream,
    proxy: Arc<str>,
    upstream_addr: Arc<str>,
    mut toxics: watch::Receiver<Arc<ToxicSet>>,
) {
    // Resolved here, at each connect, so an upstream container that came
    // back with a new address is found.
    let mut upstream = match TcpStream::connect(&*upstream_addr).await {
        Ok(stream) => stream,
        Err(err) => {
            warn!(%proxy, upstream = %upstream_addr, %err, "cannot connect upstream; closing client");
            return;
        }
    };
    // Go sets TCP_NODELAY by default; without it small writes (and the
    // latency measured through the proxy) would wait for Nagle.
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);

    let mut rng = StdRng::from_rng(&mut rand::rng());
    let mut up = Pipe::new(Stream::Upstream);
    let mut down = Pipe::new(Stream::Downstream);
    let set = toxics.borrow_and_update().clone();
    let now = Instant::now();
    up.sync(&set.upstream, now, &mut rng);
    down.sync(&set.downstream, now, &mut rng);

    let (mut client_read, mut client_write) = client.split();
    let (mut upstream_read, mut upstream_write) = upstream.split();
    let mut client_buf = vec![0u8; READ_SIZE];
    let mut upstream_buf = vec![0u8; READ_SIZE];
    let mut watching = true;

    loop {
        let now = Instant::now();
        up.pump(now);
        down.pump(now);

        if up.end == Some(End::Reset) || down.end == Some(End::Reset) {
            debug!(%proxy, "reset_peer: resetting both sockets");
            for socket in [
                SockRef::from(client_read.as_ref()),
                SockRef::from(upstream_read.as_ref()),
            ] {
                let _ = socket.set_linger(Some(Duration::ZERO));
            }
            return; // dropping the sockets now sends RST
        }
        if let Some(end) = up.take_finish() {
            let _ = upstream_write.shutdown().await;
            if end == End::Close {
                down.end_input(Item::Close, now);
            }
            continue;
        }
        if let Some(end) = down.take_finish() {
            let _ = client_write.shutdown().await;
            if end == End::Close {
                up.end_input(Item::Close, now);
            }
            continue;
        }
        if up.finished && down.finished {
            return;
        }

        let wake = [up.wake_at(), down.wake_at()].into_iter().flatten().min();
        let up_out = up.out.front().cloned();
        let down_out = down.out.front().cloned();
        tokio::select! {
            // Toxic changes first, so data read after an API call returned
            // always meets the new chain.
            biased;
            changed = toxics.changed(), if watching => match changed {
                Ok(()) => {
                    let set = toxics.borrow_and_update().clone();
                    let now = Instant::now();
                    up.sync(&set.upstream, now, &mut rng);
                    down.sync(&set.downstream, now, &mut rng);
                }
                Err(_) => watching = false,
            },
            _ = tokio::time::sleep_until(wake.unwrap_or(now)), if wake.is_some() => {}
            written = upstream_write.write(up_out.as_deref().unwrap_or_default()), if up_out.is_some() => {
                match written {
                    Ok(n) => up.wrote(n),
                    Err(_) => {
                        up.abandon();
                        down.end_input(Item::Close, Instant::now());
                    }
                }
            }
            written = client_write.write(down_out.as_deref().unwrap_or_default()), if down_out.is_some() => {
                match written {
                    Ok(n) => down.wrote(n),
                    Err(_) => {
                        down.abandon();
                        up.end_input(Item::Close, Instant::now());
                    }
                }
            }
            read = client_read.read(&mut client_buf), if up.can_read() => {
                up.received(read, &client_buf, Instant::now());
            }
            read = upstream_read.read(&mut upstream_buf), if down.can_read() => {
                down.received(read, &upstream_buf, Instant::now());
            }
        }
    }
}

/// How a direction ended, once its last item reached the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Eof,
    Close,
    Reset,
}

/// A toxic installed on this connection.
struct Slot {
    name: String,
    generation: u64,
    toxicity: f32,
    type_name: &'static str,
    /// Whether the toxicity roll made the toxic apply to this connection.
    active: bool,
    stage: Box<dyn Stage>,
}

impl Slot {
    fn new(entry: &ToxicEntry, active: bool, now: Instant, rng: &mut StdRng) -> Slot {
        let stage: Box<dyn Stage> = if active {
            stage_for(&entry.toxic.kind, now, StdRng::from_rng(rng))
        } else {
            Box::new(Passthrough::default())
        };
        Slot {
            name: entry.toxic.name.clone(),
            generation: entry.generation,
            toxicity: entry.toxic.toxicity,
            type_name: entry.toxic.kind.type_name(),
            active,
            stage,
        }
    }
}

/// Toxicity is the probability that a toxic applies to a connection; like
/// Toxiproxy, `random in [0, 1) < toxicity`.
fn roll(toxicity: f32, rng: &mut StdRng) -> bool {
    rng.random::<f32>() < toxicity
}

/// One direction: source socket → toxics → write queue → destination socket.
struct Pipe {
    stream: Stream,
    slots: Vec<Slot>,
    out: VecDeque<Bytes>,
    out_bytes: usize,
    /// The end that came out of the chain; acted on once `out` is written.
    end: Option<End>,
    reading: bool,
    finished: bool,
}

impl Pipe {
    fn new(stream: Stream) -> Pipe {
        Pipe {
            stream,
            slots: Vec::new(),
            out: VecDeque::new(),
            out_bytes: 0,
            end: None,
            reading: true,
            finished: false,
        }
    }

    /// Brings the chain in line with the proxy's toxics for this stream.
    /// A removed toxic hands what it holds to the toxics after it; an
    /// updated one keeps its state (queued data, `limit_data`'s count) and
    /// its toxicity roll, unless the toxicity itself changed; new toxics go
    /// at the end, as Toxiproxy appends them.
    fn sync(&mut self, entries: &[ToxicEntry], now: Instant, rng: &mut StdRng) {
        debug_assert!(entries.iter().all(|e| e.toxic.stream == self.stream));
        let mut carried: Vec<Item> = Vec::new();
        let mut kept: HashMap<String, Slot> = HashMap::new();
        for mut slot in std::mem::take(&mut self.slots) {
            if entries.iter().any(|e| e.toxic.name == slot.name) {
                for item in carried.drain(..) {
                    slot.stage.push(item, now);
                }
                kept.insert(slot.name.clone(), slot);
            } else {
                carried.extend(slot.stage.flush());
            }
        }
        for entry in entries {
            let slot = match kept.remove(&entry.toxic.name) {
                Some(slot) if slot.generation == entry.generation => slot,
                Some(slot) => Self::refresh(slot, entry, now, rng),
                None => {
                    let mut slot = Slot::new(entry, roll(entry.toxic.toxicity, rng), now, rng);
                    // Data flushed from removed toxics that followed every
                    // surviving one still has the new toxics to pass.
                    for item in carried.drain(..) {
                        slot.stage.push(item, now);
                    }
                    slot
                }
            };
            self.slots.push(slot);
        }
        for item in carried {
            self.deliver(item);
        }
    }

    fn refresh(mut slot: Slot, entry: &ToxicEntry, now: Instant, rng: &mut StdRng) -> Slot {
        let active = if slot.toxicity == entry.toxic.toxicity {
            slot.active
        } else {
            roll(entry.toxic.toxicity, rng)
        };
        if slot.type_name == entry.toxic.kind.type_name() && slot.active == active {
            slot.stage.update(&entry.toxic.kind, now);
            slot.generation = entry.generation;
            slot.toxicity = entry.toxic.toxicity;
            return slot;
        }
        let mut fresh = Slot::new(entry, active, now, rng);
        for item in slot.stage.flush() {
            fresh.stage.push(item, now);
        }
        fresh
    }

    /// Something read from the source (or its end) enters the chain.
    fn input(&mut self, item: Item, now: Instant) {
        match self.slots.first_mut() {
            Some(slot) => slot.stage.push(item, now),
            None => self.deliver(item),
        }
    }

    fn received(&mut self, read: std::io::Result<usize>, buf: &[u8], now: Instant) {
        match read {
            Ok(0) => self.end_input(Item::Eof, now),
            Ok(n) => self.input(Item::Data(Bytes::copy_from_slice(&buf[..n])), now),
            Err(_) => self.end_input(Item::Close, now),
        }
    }

    /// The source is done (or must no longer be read): no more reads, and
    /// the end follows the data already in the chain.
    fn end_input(&mut self, end: Item, now: Instant) {
        if self.reading && !self.finished {
            self.reading = false;
            self.input(end, now);
        }
    }

    /// Moves every due item as far down the chain as it can go now.
    fn pump(&mut self, now: Instant) {
        for i in 0..self.slots.len() {
            while let Some(item) = self.slots[i].stage.pop(now) {
                match self.slots.get_mut(i + 1) {
                    Some(next) => next.stage.push(item, now),
                    None => self.deliver(item),
                }
            }
        }
    }

    /// An item leaves the chain towards the destination socket.
    fn deliver(&mut self, item: Item) {
        match item {
            Item::Data(data) if self.end.is_none() && !self.finished => {
                self.out_bytes += data.len();
                self.out.push_back(data);
            }
            Item::Data(_) => {}
            Item::Eof => {
                self.end.get_or_insert(End::Eof);
            }
            Item::Close => {
                self.end.get_or_insert(End::Close);
            }
            Item::Reset if !self.finished => self.end = Some(End::Reset),
            Item::Reset => {}
        }
    }

    fn wrote(&mut self, n: usize) {
        if let Some(front) = self.out.front_mut() {
            let _ = front.split_to(n);
            self.out_bytes -= n;
            if front.is_empty() {
                self.out.pop_front();
            }
        }
    }

    /// The destination failed: drop what is queued; the direction is over.
    fn abandon(&mut self) {
        self.out.clear();
        self.out_bytes = 0;
        self.reading = false;
        self.end = Some(End::Close);
        self.finished = true;
    }

    /// The end to act on, once everything before it has been written.
    fn take_finish(&mut self) -> Option<End> {
        if self.finished || !self.out.is_empty() {
            return None;
        }
        let end = self.end?;
        self.finished = true;
        self.reading = false;
        Some(end)
    }

    fn wake_at(&self) -> Option<Instant> {
        self.slots.iter().filter_map(|s| s.stage.wake_at()).min()
    }

    fn can_read(&self) -> bool {
        let held: usize = self.slots.iter().map(|s| s.stage.buffered()).sum();
        self.reading && !self.finished && held + self.out_bytes < MAX_BUFFERED
    }
}
