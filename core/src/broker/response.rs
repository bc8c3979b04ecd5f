//! A response as it goes on the wire, and how it gets there.
//!
//! Most responses are one encoded buffer. A fetch response is byte chunks (the size
//! prefix, the response header, each partition's fields and its records' length
//! prefix, the tagged fields) with regions of segment files between them, the
//! record batches, which are not in memory. [`write`] sends the chunks with `write`
//! and the regions either with `sendfile(2)` straight from the page cache to the
//! socket ([`Transfer::ZeroCopy`]), or through a buffer filled with positional reads
//! ([`Transfer::Copy`], for a transport that must see the bytes, and for measuring
//! one against the other). Either way a response holds file handles and offsets,
//! never the data it serves; the copying path holds one buffer of at most
//! [`COPY_CHUNK`] bytes while it writes.
//!
//! A region that reads short (its segment was truncated after the read: follower
//! truncation) fails the write: the size prefix already promised those bytes, so the
//! connection can only be closed, as Kafka does. A segment deleted meanwhile (retention,
//! compaction) is still read through its open handle; see [`FetchedRecords`].
//!
//! [`FetchedRecords`]: crate::log::FetchedRecords

use std::io;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;

use crate::log::FileRegion;

/// The largest buffer the copying path fills before writing it.
pub(crate) const COPY_CHUNK: usize = 256 * 1024;

/// How file regions reach the socket (`weir.fetch.zero.copy.enable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transfer {
    /// `sendfile(2)` from the segment file to the socket.
    ZeroCopy,
    /// `pread(2)` into a buffer, then `write(2)`.
    Copy,
}

/// A whole response frame, size prefix included.
#[derive(Debug, Default)]
pub(crate) struct Response {
    head: Bytes,
    /// Each file region and the bytes that follow it, in wire order.
    tail: Vec<(FileRegion, Bytes)>,
}

impl From<BytesMut> for Response {
    fn from(buf: BytesMut) -> Response {
        Response {
            head: buf.freeze(),
            tail: Vec::new(),
        }
    }
}

impl Response {
    /// A frame of `head`, then each region followed by its bytes.
    pub(crate) fn with_regions(head: Bytes, tail: Vec<(FileRegion, Bytes)>) -> Response {
        Response { head, tail }
    }

    /// Bytes on the wire.
    pub(crate) fn len(&self) -> usize {
        self.head.len()
            + self
                .tail
                .iter()
                .map(|(region, after)| region.len() + after.len())
                .sum::<usize>()
    }

    /// The file regions, in wire order.
    #[cfg(test)]
    pub(crate) fn regions(&self) -> impl Iterator<Item = &FileRegion> {
        self.tail.iter().map(|(region, _)| region)
    }

    /// The whole frame in memory, as the copying path sends it.
    #[cfg(test)]
    pub(crate) fn to_vec(&self) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.len());
        futures_util::FutureExt::now_or_never(write_copying(&mut out, self))
            .expect("writing to a Vec never waits")?;
        Ok(out)
    }
}

/// Writes `response` to the connection.
pub(crate) async fn write(
    writer: &mut OwnedWriteHalf,
    response: &Response,
    transfer: Transfer,
) -> io::Result<()> {
    if response.tail.is_empty() {
        return writer.write_all(&response.head).await;
    }
    match transfer {
        Transfer::ZeroCopy => write_zero_copy(writer, response).await,
        Transfer::Copy => write_copying(writer, response).await,
    }
}

#[cfg(target_os = "linux")]
async fn write_zero_copy(writer: &mut OwnedWriteHalf, response: &Response) -> io::Result<()> {
    writer.write_all(&response.head).await?;
    for (region, after) in &response.tail {
        send_region(writer.as_ref(), region).await?;
        if !after.is_empty() {
            writer.write_all(after).await?;
        }
    }
    Ok(())
}

/// Other systems have no `sendfile(2)` with these semantics: copy.
#[cfg(not(target_os = "linux"))]
async fn write_zero_copy(writer: &mut OwnedWriteHalf, response: &Response) -> io::Result<()> {
    write_copying(writer, response).await
}

/// Sends one region with `sendfile(2)` on the non-blocking socket: each call sends
/// what fits in the socket buffer and moves `position` on; `EAGAIN` clears tokio's
/// readiness and waits for the socket to drain.
///
/// `EPIPE` from a peer that went away comes back as an error, not a signal: Rust
/// programs start with `SIGPIPE` ignored. `sendfile` blocks on disk reads for pages not
/// in the page cache, as the positional reads of the copying path do.
#[cfg(target_os = "linux")]
async fn send_region(stream: &tokio::net::TcpStream, region: &FileRegion) -> io::Result<()> {
    let mut position = region.position();
    let end = position + region.len() as u64;
    while position < end {
        let count = usize::try_from(end - position).unwrap_or(usize::MAX);
        stream.writable().await?;
        let sent = stream.try_io(tokio::io::Interest::WRITABLE, || {
            rustix::fs::sendfile(stream, region.file(), Some(&mut position), count)
                .map_err(io::Error::from)
        });
        match sent {
            Ok(0) => return Err(truncated(region)),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn truncated(region: &FileRegion) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!(
            "{} ends inside a fetched region ({} bytes at {}): truncated while being sent",
            region.path().display(),
            region.len(),
            region.position()
        ),
    )
}

/// The copying path: chunks and regions gathered into one buffer of at most
/// [`COPY_CHUNK`] bytes, written whenever it fills.
async fn write_copying<W: AsyncWrite + Unpin>(
    writer: &mut W,
    response: &Response,
) -> io::Result<()> {
    let mut buf = vec![0u8; response.len().min(COPY_CHUNK)];
    let mut filled = 0;
    put_bytes(writer, &mut buf, &mut filled, &response.head).await?;
    for (region, after) in &response.tail {
        let mut done = 0;
        while done < region.len() {
            if filled == buf.len() {
                writer.write_all(&buf).await?;
                filled = 0;
            }
            let n = (region.len() - done).min(buf.len() - filled);
            region
                .read_at(done, &mut buf[filled..filled + n])
                .map_err(io::Error::other)?;
            filled += n;
            done += n;
        }
        put_bytes(writer, &mut buf, &mut filled, after).await?;
    }
    writer.write_all(&buf[..filled]).await
}

/// Adds `bytes` to the buffer, writing the buffer first if they do not fit, and
/// `bytes` directly if they never could.
async fn put_bytes<W: AsyncWrite + Unpin>(
    writer: &mut W,
    buf: &mut [u8],
    filled: &mut usize,
    bytes: &[u8],
) -> io::Result<()> {
    if buf.len() - *filled < bytes.len() {
        writer.write_all(&buf[..*filled]).await?;
        *filled = 0;
        if bytes.len() > buf.len() {
            return writer.write_all(bytes).await;
        }
    }
    buf[*filled..*filled + bytes.len()].copy_from_slice(bytes);
    *filled += bytes.len();
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::log::batch::RecordBatchBuilder;
    use crate::log::{FetchedRecords, Log, LogConfig};

    /// A log of about `mb` MiB in 1 MiB segments, in batches of 64 KiB.
    fn log(dir: &std::path::Path, mb: usize) -> Log {
        let config = LogConfig {
            segment_bytes: 1 << 20,
            ..LogConfig::default()
        };
        let mut log = Log::open(&dir.join("t-0"), config, 0).unwrap();
        for i in 0..mb * 16 {
            let mut batch = RecordBatchBuilder::new();
            let value: Vec<u8> = (0..64 * 1024).map(|j| (i * 31 + j) as u8).collect();
            batch.push(0, None, Some(&value));
            log.append(batch.build(), 0).unwrap();
        }
        log
    }

    /// A frame of a head, each region with a few bytes after it, and a trailer.
    fn frame(fetched: &FetchedRecords) -> Response {
        let regions = fetched.regions();
        let tail = regions
            .iter()
            .enumerate()
            .map(|(i, r)| (r.clone(), Bytes::from(format!("after {i}"))))
            .collect();
        Response::with_regions(Bytes::from_static(b"head"), tail)
    }

    async fn pair() -> (OwnedWriteHalf, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let (_, writer) = server.into_split();
        (writer, client)
    }

    /// Writes `response` while the peer reads slowly at first, so the socket fills
    /// and the sender sees partial sends and EAGAIN; returns what arrived.
    async fn send(response: &Response, transfer: Transfer) -> io::Result<Vec<u8>> {
        let (mut writer, mut client) = pair().await;
        let len = response.len();
        let reader = async move {
            let mut out = vec![0; len];
            let mut got = 0;
            while got < len {
                let cap = if got < len / 4 { 4096 } else { len - got };
                let n = client.read(&mut out[got..got + cap]).await.unwrap();
                assert!(n > 0, "closed after {got} of {len} bytes");
                got += n;
                if got < len / 4 {
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
            }
            out
        };
        let (written, received) = tokio::join!(write(&mut writer, response, transfer), reader);
        written.map(|()| received)
    }

    #[tokio::test]
    async fn both_transfers_send_exactly_the_frame_across_segments() {
        let tmp = tempfile::tempdir().unwrap();
        let log = log(tmp.path(), 6);
        let fetched = log.read_records(3, 5 << 20, log.log_end_offset()).unwrap();
        assert!(fetched.regions().len() >= 5);
        let response = frame(&fetched);
        let expected = response.to_vec().unwrap();
        assert_eq!(expected.len(), response.len());
        for transfer in [Transfer::ZeroCopy, Transfer::Copy] {
            let sent = send(&response, transfer).await.unwrap();
            assert!(sent == expected, "{transfer:?}: the bytes differ");
        }
    }

    #[tokio::test]
    async fn a_segment_deleted_while_its_region_waits_is_still_sent() {
        let tmp = tempfile::tempdir().unwrap();
        let mut log = log(tmp.path(), 3);
        let end = log.log_end_offset();
        let fetched = log.read_records(0, 4 << 20, end).unwrap();
        let response = frame(&fetched);
        let expected = response.to_vec().unwrap();
        log.delete_records_before(end).unwrap();
        // Every segment but the active one is gone from the directory.
        let regions = fetched.regions();
        assert!(regions.len() >= 3);
        assert!(regions[..regions.len() - 1]
            .iter()
            .all(|r| !r.path().exists()));
        for transfer in [Transfer::ZeroCopy, Transfer::Copy] {
            let sent = send(&response, transfer).await.unwrap();
            assert!(sent == expected, "{transfer:?}: the bytes differ");
        }
    }

    #[tokio::test]
    async fn a_region_truncated_before_it_is_sent_fails_the_write() {
        let tmp = tempfile::tempdir().unwrap();
        let mut log = log(tmp.path(), 1);
        let end = log.log_end_offset();
        let fetched = log.read_records(end - 4, 1 << 20, end).unwrap();
        let response = frame(&fetched);
        log.truncate_to(end - 4, 0).unwrap();
        for transfer in [Transfer::ZeroCopy, Transfer::Copy] {
            let (mut writer, _client) = pair().await;
            let error = write(&mut writer, &response, transfer).await.unwrap_err();
            assert!(error.to_string().contains(".log"), "{transfer:?}: {error}");
        }
    }

    #[tokio::test]
    async fn a_peer_that_closes_mid_response_ends_the_write_with_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let log = log(tmp.path(), 8);
        let fetched = log.read_records(0, 8 << 20, log.log_end_offset()).unwrap();
        let response = frame(&fetched);
        for transfer in [Transfer::ZeroCopy, Transfer::Copy] {
            let (mut writer, mut client) = pair().await;
            let reader = async move {
                let mut buf = vec![0; 64 * 1024];
                client.read_exact(&mut buf).await.unwrap();
                // Unread data makes the close a reset.
                drop(client);
            };
            let written = tokio::time::timeout(Duration::from_secs(10), async {
                tokio::join!(write(&mut writer, &response, transfer), reader).0
            })
            .await
            .expect("the write must end, not hang");
            assert!(written.is_err(), "{transfer:?}: the write succeeded");
        }
    }
}
