//! Capture reading and TCP stream reassembly for `smppgate pdu decode --pcap`.
//!
//! The file formats and the link/IP/TCP headers are parsed by `pcap-file` and `etherparse`;
//! this module only keeps per-direction TCP state:
//!
//! * a direction is `src ip:port → dst ip:port`; each is reassembled on its own;
//! * segments are placed by TCP sequence number (wrapping arithmetic, relative to the SYN's
//!   ISN, or to the first segment seen when the capture starts mid-connection);
//! * bytes already delivered (retransmissions, overlaps) are dropped, out-of-order segments
//!   wait in a bounded buffer until the gap before them is filled;
//! * contiguous bytes are appended to [`Flow::data`], where the caller cuts PDUs off the
//!   front; [`Flow::frame_at`] maps a stream offset to the capture frame that carried it.
//!
//! Memory per direction is bounded by [`MAX_OUT_OF_ORDER`] octets of waiting segments plus
//! what the caller leaves in `data` (at most one incomplete PDU, itself capped by the frame
//! decoder). A direction that exceeds the bound, or whose gap is never filled, gets an error
//! and is not decoded further; other directions continue.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use anyhow::{Context, bail};
use bytes::BytesMut;
use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use pcap_file::DataLink;
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};

/// Most octets of out-of-order TCP data held per direction while waiting for a missing
/// segment (1 MiB: far above any real SMPP window, far below anything that hurts).
pub(crate) const MAX_OUT_OF_ORDER: usize = 1 << 20;

/// One direction of a TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct FlowKey {
    /// Sender.
    pub(crate) src: SocketAddr,
    /// Receiver.
    pub(crate) dst: SocketAddr,
}

impl fmt::Display for FlowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} → {}", self.src, self.dst)
    }
}

/// Reassembly state of one direction.
#[derive(Debug)]
pub(crate) struct Flow {
    /// Which direction this is.
    pub(crate) key: FlowKey,
    /// Contiguous, not yet consumed stream bytes, starting at stream offset `data_start`.
    /// The frame decoder splits PDUs off its front; report that with [`Flow::advanced`].
    pub(crate) data: BytesMut,
    /// Stream offset (0 = first payload octet after the SYN) of `data[0]`.
    pub(crate) data_start: u64,
    /// Set once the flow is broken (gap, buffer overflow, framing error); no more data is
    /// delivered to `data` afterwards.
    pub(crate) failed: bool,
    /// Absolute TCP sequence number of stream offset 0; `None` before any segment.
    base_seq: Option<u32>,
    /// ISN of the SYN, to recognise a retransmitted SYN from a new connection.
    isn: Option<u32>,
    /// Out-of-order segments by stream offset: (payload, frame).
    pending: BTreeMap<u64, (Vec<u8>, u64)>,
    pending_bytes: usize,
    /// (stream offset, frame) for each chunk appended to `data`, oldest first.
    arrivals: VecDeque<(u64, u64)>,
}

impl Flow {
    fn new(key: FlowKey) -> Self {
        Self {
            key,
            data: BytesMut::new(),
            data_start: 0,
            failed: false,
            base_seq: None,
            isn: None,
            pending: BTreeMap::new(),
            pending_bytes: 0,
            arrivals: VecDeque::new(),
        }
    }

    /// Stream offset just past the last contiguous octet received.
    fn next_offset(&self) -> u64 {
        self.data_start + self.data.len() as u64
    }

    /// The capture frame (1-based) whose payload carried the octet at stream `offset`.
    pub(crate) fn frame_at(&self, offset: u64) -> Option<u64> {
        self.arrivals
            .iter()
            .rev()
            .find(|(start, _)| *start <= offset)
            .map(|&(_, frame)| frame)
    }

    /// Drops the first `n` octets of `data`.
    pub(crate) fn consume(&mut self, n: usize) {
        let _ = self.data.split_to(n);
        self.advanced(n);
    }

    /// Records that `n` octets were taken off the front of `data` (by the frame decoder).
    pub(crate) fn advanced(&mut self, n: usize) {
        self.data_start += n as u64;
        // Keep the arrival that covers data_start; drop older ones.
        while self.arrivals.len() > 1 && self.arrivals[1].0 <= self.data_start {
            self.arrivals.pop_front();
        }
    }

    /// Describes octets that never arrived (a hole before buffered segments), if any, with
    /// the frame of the first segment after the hole.
    pub(crate) fn missing(&self) -> Option<(String, u64)> {
        let (&offset, &(_, frame)) = self.pending.iter().next()?;
        let message = format!(
            "{} octets missing from the capture at stream offset {} (before frame {frame}); \
             the rest of this direction is not decoded",
            offset - self.next_offset(),
            self.next_offset()
        );
        Some((message, frame))
    }

    /// Places one TCP segment. Returns an error message when the flow breaks here.
    fn segment(&mut self, frame: u64, seq: u32, syn: bool, payload: &[u8]) -> Option<String> {
        if self.failed {
            return None;
        }
        let seq = if syn {
            // The SYN occupies one sequence number; data starts after it.
            self.isn = Some(seq);
            self.base_seq.get_or_insert(seq.wrapping_add(1));
            seq.wrapping_add(1)
        } else {
            seq
        };
        if payload.is_empty() {
            return None;
        }
        let base_seq = *self.base_seq.get_or_insert(seq);
        let next = self.next_offset();
        // Sequence numbers are modulo 2^32: keep the low 32 bits of the offset, and read the
        // distance from the next expected octet as a signed 32-bit number.
        let next_seq = base_seq.wrapping_add(u32::try_from(next & 0xFFFF_FFFF).unwrap_or(0));
        let distance = i64::from(i32::from_be_bytes(seq.wrapping_sub(next_seq).to_be_bytes()));
        let Some(offset) = next.checked_add_signed(distance) else {
            return None; // before the start of the stream: an old retransmission
        };
        self.place(offset, payload, frame);
        loop {
            let next = self.next_offset();
            let Some(entry) = self.pending.first_entry() else {
                break;
            };
            if *entry.key() > next {
                break;
            }
            let (offset, (bytes, frame)) = entry.remove_entry();
            self.pending_bytes -= bytes.len();
            self.place(offset, &bytes, frame);
        }
        if self.pending_bytes > MAX_OUT_OF_ORDER {
            self.failed = true;
            self.pending.clear();
            self.pending_bytes = 0;
            return Some(format!(
                "more than {MAX_OUT_OF_ORDER} octets of out-of-order TCP data wait for a segment \
                 missing at stream offset {}; the rest of this direction is not decoded",
                self.next_offset()
            ));
        }
        None
    }

    /// Appends the part of `payload` (at stream `offset`) not yet delivered, or buffers it
    /// if it lies beyond a gap.
    fn place(&mut self, offset: u64, payload: &[u8], frame: u64) {
        let next = self.next_offset();
        let end = offset + payload.len() as u64;
        if end <= next {
            return; // retransmission of delivered data
        }
        if offset > next {
            let longer = self
                .pending
                .get(&offset)
                .is_none_or(|(old, _)| old.len() < payload.len());
            if longer {
                let old = self.pending.insert(offset, (payload.to_vec(), frame));
                self.pending_bytes += payload.len();
                self.pending_bytes -= old.map_or(0, |(bytes, _)| bytes.len());
            }
            return;
        }
        // offset <= next < end: `skip` < payload.len(), so it fits in usize.
        let skip = usize::try_from(next - offset).unwrap_or(payload.len());
        self.arrivals.push_back((next, frame));
        self.data.extend_from_slice(&payload[skip..]);
    }
}

/// What one captured packet did to the TCP state.
pub(crate) struct Arrival {
    /// The direction it belongs to; its new contiguous bytes (maybe none) are in `data`.
    pub(crate) key: FlowKey,
    /// Set when the direction broke at this packet.
    pub(crate) broken: Option<String>,
    /// A SYN with a new ISN replaced an older connection in the same direction: the old
    /// state, so its leftovers can be reported.
    pub(crate) restarted: Option<Box<Flow>>,
}

/// All directions seen so far.
#[derive(Debug, Default)]
pub(crate) struct Reassembler {
    flows: HashMap<FlowKey, Flow>,
    /// First-seen order of directions, for a stable end-of-capture report.
    order: Vec<FlowKey>,
    /// IP fragments seen (not reassembled: their TCP payload is skipped).
    pub(crate) fragments: u64,
    /// Frames of a link type we cannot parse, by link type.
    pub(crate) unsupported_links: BTreeMap<String, u64>,
}

impl Reassembler {
    /// The flow for `key` (which must have been returned by [`Reassembler::packet`]).
    pub(crate) fn flow_mut(&mut self, key: FlowKey) -> Option<&mut Flow> {
        self.flows.get_mut(&key)
    }

    /// Feeds one captured frame (link layer `datalink`, 1-based `frame` number). `None`
    /// when it is not an unfragmented TCP segment over IP.
    pub(crate) fn packet(
        &mut self,
        datalink: DataLink,
        frame: u64,
        data: &[u8],
    ) -> Option<Arrival> {
        let Some(sliced) = slice(datalink, data) else {
            if !supported(datalink) {
                *self
                    .unsupported_links
                    .entry(format!("{datalink:?}"))
                    .or_default() += 1;
            }
            return None;
        };
        let (Some(net), Some(TransportSlice::Tcp(tcp))) = (&sliced.net, &sliced.transport) else {
            return None;
        };
        let (src, dst, fragmented): (IpAddr, IpAddr, bool) = match net {
            NetSlice::Ipv4(ip) => (
                ip.header().source_addr().into(),
                ip.header().destination_addr().into(),
                ip.payload().fragmented,
            ),
            NetSlice::Ipv6(ip) => (
                ip.header().source_addr().into(),
                ip.header().destination_addr().into(),
                ip.payload().fragmented,
            ),
        };
        if fragmented {
            self.fragments += 1;
            return None;
        }
        let key = FlowKey {
            src: SocketAddr::new(src, tcp.source_port()),
            dst: SocketAddr::new(dst, tcp.destination_port()),
        };
        let mut restarted = None;
        if tcp.syn() {
            let is_new_connection = self.flows.get(&key).is_some_and(|flow| {
                flow.base_seq.is_some() && flow.isn != Some(tcp.sequence_number())
            });
            if is_new_connection {
                restarted = self.flows.remove(&key).map(Box::new);
            }
        }
        let flow = match self.flows.entry(key) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                if restarted.is_none() {
                    self.order.push(key);
                }
                entry.insert(Flow::new(key))
            }
        };
        let broken = flow.segment(frame, tcp.sequence_number(), tcp.syn(), tcp.payload());
        Some(Arrival {
            key,
            broken,
            restarted,
        })
    }

    /// All flows, in the order first seen, for the end-of-capture checks.
    pub(crate) fn into_flows(mut self) -> Vec<Flow> {
        self.order
            .iter()
            .filter_map(|key| self.flows.remove(key))
            .collect()
    }
}

/// Whether [`slice`] knows the link type.
fn supported(datalink: DataLink) -> bool {
    matches!(
        datalink,
        DataLink::ETHERNET
            | DataLink::LINUX_SLL
            | DataLink::RAW
            | DataLink::IPV4
            | DataLink::IPV6
            | DataLink::NULL
            | DataLink::LOOP
    )
}

/// Parses link, IP and TCP headers with etherparse, for the link types captures use.
fn slice(datalink: DataLink, data: &[u8]) -> Option<SlicedPacket<'_>> {
    match datalink {
        DataLink::ETHERNET => SlicedPacket::from_ethernet(data).ok(),
        DataLink::LINUX_SLL => SlicedPacket::from_linux_sll(data).ok(),
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => SlicedPacket::from_ip(data).ok(),
        // BSD loopback: a 4-octet address family in host order, then the IP packet.
        DataLink::NULL | DataLink::LOOP => SlicedPacket::from_ip(data.get(4..)?).ok(),
        _ => None,
    }
}

/// Reads the frames of a pcap or pcapng file and calls `each(datalink, frame, data)` with
/// 1-based frame numbers, as Wireshark counts them.
pub(crate) fn read_capture(
    path: &Path,
    mut each: impl FnMut(DataLink, u64, &[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut reader = BufReader::new(file);
    let mut magic = [0u8; 4];
    reader
        .read_exact(&mut magic)
        .with_context(|| format!("{}: too short to be a capture", path.display()))?;
    let reader = std::io::Cursor::new(magic).chain(reader);
    let mut frame = 0u64;
    match magic {
        [0x0a, 0x0d, 0x0d, 0x0a] => {
            let mut pcapng = PcapNgReader::new(reader)
                .with_context(|| format!("{}: not a valid pcapng file", path.display()))?;
            // Link types of the current section's interfaces, by interface id. Kept here
            // because a block borrows the reader.
            let mut interfaces: Vec<DataLink> = Vec::new();
            let link = |interfaces: &[DataLink], id: usize| {
                interfaces.get(id).copied().unwrap_or(DataLink::ETHERNET)
            };
            while let Some(block) = pcapng.next_block() {
                let block = block.with_context(|| {
                    format!(
                        "{}: damaged pcapng block after frame {frame}",
                        path.display()
                    )
                })?;
                match block {
                    Block::SectionHeader(_) => interfaces.clear(),
                    Block::InterfaceDescription(interface) => interfaces.push(interface.linktype),
                    Block::EnhancedPacket(packet) => {
                        frame += 1;
                        let id = usize::try_from(packet.interface_id).unwrap_or(usize::MAX);
                        each(link(&interfaces, id), frame, &packet.data)?;
                    }
                    Block::SimplePacket(packet) => {
                        frame += 1;
                        each(link(&interfaces, 0), frame, &packet.data)?;
                    }
                    Block::Packet(packet) => {
                        frame += 1;
                        each(
                            link(&interfaces, usize::from(packet.interface_id)),
                            frame,
                            &packet.data,
                        )?;
                    }
                    _ => {}
                }
            }
        }
        [0xa1, 0xb2, 0xc3, 0xd4]
        | [0xd4, 0xc3, 0xb2, 0xa1]
        | [0xa1, 0xb2, 0x3c, 0x4d]
        | [0x4d, 0x3c, 0xb2, 0xa1] => {
            let mut pcap = PcapReader::new(reader)
                .with_context(|| format!("{}: not a valid pcap file", path.display()))?;
            let datalink = pcap.header().datalink;
            while let Some(packet) = pcap.next_packet() {
                let packet = packet.with_context(|| {
                    format!(
                        "{}: damaged pcap record after frame {frame}",
                        path.display()
                    )
                })?;
                frame += 1;
                each(datalink, frame, &packet.data)?;
            }
        }
        _ => bail!(
            "{}: not a pcap or pcapng file (magic {})",
            path.display(),
            hex::encode(magic)
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> FlowKey {
        FlowKey {
            src: "10.0.0.1:1000".parse().unwrap(),
            dst: "10.0.0.2:2775".parse().unwrap(),
        }
    }

    #[test]
    fn reorders_and_drops_retransmissions() {
        let mut flow = Flow::new(key());
        assert!(flow.segment(1, 99, true, b"").is_none());
        assert!(flow.segment(3, 105, false, b"fgh").is_none()); // early
        assert!(flow.data.is_empty());
        assert_eq!(flow.missing().map(|(_, frame)| frame), Some(3));
        assert!(flow.segment(2, 100, false, b"abcd").is_none()); // leaves "e" missing
        assert_eq!(&flow.data[..], b"abcd");
        assert!(flow.segment(4, 102, false, b"cde").is_none()); // overlap fills the hole
        assert_eq!(&flow.data[..], b"abcdefgh");
        assert!(flow.missing().is_none());
        assert!(flow.segment(5, 100, false, b"abcd").is_none()); // retransmission
        assert_eq!(&flow.data[..], b"abcdefgh");
        assert_eq!(flow.frame_at(0), Some(2));
        assert_eq!(flow.frame_at(4), Some(4));
        assert_eq!(flow.frame_at(5), Some(3));
        flow.consume(5);
        assert_eq!(&flow.data[..], b"fgh");
        assert_eq!(flow.frame_at(5), Some(3));
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut flow = Flow::new(key());
        assert!(flow.segment(1, u32::MAX - 1, false, b"ab").is_none());
        assert!(flow.segment(2, 0, false, b"cd").is_none());
        assert_eq!(&flow.data[..], b"abcd");
    }

    #[test]
    fn out_of_order_buffer_is_bounded() {
        let mut flow = Flow::new(key());
        assert!(flow.segment(1, 0, false, b"a").is_none());
        let chunk = vec![0u8; 1000];
        let mut broke = None;
        for i in 0..2000u32 {
            broke = flow.segment(2, 10 + i * 1000, false, &chunk);
            if broke.is_some() {
                break;
            }
        }
        assert!(broke.unwrap().contains("out-of-order"));
        assert!(flow.failed);
    }

    fn tcp_frame(seq: u32, syn: bool, payload: &[u8]) -> Vec<u8> {
        let mut builder = etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(1000, 2775, seq, 1024);
        if syn {
            builder = builder.syn();
        }
        let mut frame = Vec::new();
        builder.write(&mut frame, payload).unwrap();
        frame
    }

    #[test]
    fn a_new_syn_restarts_the_direction() {
        let mut reassembler = Reassembler::default();
        let arrival = reassembler
            .packet(DataLink::ETHERNET, 1, &tcp_frame(100, true, b""))
            .unwrap();
        assert!(arrival.restarted.is_none());
        let arrival = reassembler
            .packet(DataLink::ETHERNET, 2, &tcp_frame(101, false, b"abc"))
            .unwrap();
        assert_eq!(arrival.key, key());
        // A retransmitted SYN is not a new connection.
        let arrival = reassembler
            .packet(DataLink::ETHERNET, 3, &tcp_frame(100, true, b""))
            .unwrap();
        assert!(arrival.restarted.is_none());
        let arrival = reassembler
            .packet(DataLink::ETHERNET, 4, &tcp_frame(5000, true, b""))
            .unwrap();
        assert_eq!(&arrival.restarted.unwrap().data[..], b"abc");
        reassembler
            .packet(DataLink::ETHERNET, 5, &tcp_frame(5001, false, b"xyz"))
            .unwrap();
        let flows = reassembler.into_flows();
        assert_eq!(flows.len(), 1);
        assert_eq!(&flows[0].data[..], b"xyz");
        assert_eq!(flows[0].frame_at(0), Some(5));
    }

    #[test]
    fn non_tcp_and_unsupported_links_are_skipped() {
        let mut reassembler = Reassembler::default();
        assert!(
            reassembler
                .packet(DataLink::ETHERNET, 1, b"short")
                .is_none()
        );
        assert!(
            reassembler
                .packet(DataLink::IEEE802_11, 2, &tcp_frame(1, false, b"a"))
                .is_none()
        );
        assert_eq!(reassembler.unsupported_links.get("IEEE802_11"), Some(&1));
        // Raw IP: the same segment without its 14-octet Ethernet header.
        assert!(
            reassembler
                .packet(DataLink::RAW, 3, &tcp_frame(1, false, b"a")[14..])
                .is_some()
        );
    }
}
