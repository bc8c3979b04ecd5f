//! The broker's resource limits over raw TCP: connections per address and in
//! total, idle connections, oversized frames and pipelining past the in-flight
//! limit. A client over a limit loses only its own connection; everyone else keeps
//! being served.

use std::fmt::Debug;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use weir_core::broker::{run, BrokerConfig};

/// Generous bound on waits that should end at once, so a broken broker fails the
/// test instead of hanging it. Not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(20);

struct Broker {
    addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinSet<()>,
    _dir: tempfile::TempDir,
}

impl Broker {
    async fn start(settings: &[(&str, &str)]) -> Broker {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = BrokerConfig::new(dir.path());
        for (key, value) in settings {
            config.set(key, value).unwrap();
        }
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let mut task = JoinSet::new();
        task.spawn(async move { run(listener, config, token).await.unwrap() });
        Broker {
            addr,
            shutdown,
            task,
            _dir: dir,
        }
    }

    async fn stop(mut self) {
        self.shutdown.cancel();
        self.task.join_next().await.unwrap().unwrap();
    }

    /// Connects from 127.0.0.1.
    async fn connect(&self) -> TcpStream {
        self.connect_from(Ipv4Addr::LOCALHOST).await
    }

    /// Connects from another loopback address (all of 127.0.0.0/8 is local), which
    /// the broker sees as another client host.
    async fn connect_from(&self, ip: Ipv4Addr) -> TcpStream {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from((ip, 0))).unwrap();
        socket.connect(self.addr).await.unwrap()
    }
}

/// An ApiVersions v0 request, size prefix included.
fn api_versions_request(correlation_id: i32) -> Vec<u8> {
    let mut frame = Vec::new();
    frame.extend_from_slice(&10i32.to_be_bytes());
    frame.extend_from_slice(&18i16.to_be_bytes());
    frame.extend_from_slice(&0i16.to_be_bytes());
    frame.extend_from_slice(&correlation_id.to_be_bytes());
    frame.extend_from_slice(&(-1i16).to_be_bytes()); // null client id
    frame
}

/// Reads one response and returns its correlation id, checking it is an
/// ApiVersions v0 answer without error.
async fn read_api_versions_response(stream: &mut TcpStream) -> io::Result<i32> {
    let size = stream.read_i32().await?;
    let mut body = vec![0; usize::try_from(size).expect("a positive response size")];
    stream.read_exact(&mut body).await?;
    let correlation_id = i32::from_be_bytes(body[..4].try_into().unwrap());
    let error_code = i16::from_be_bytes(body[4..6].try_into().unwrap());
    assert_eq!(error_code, 0, "ApiVersions failed");
    Ok(correlation_id)
}

/// Sends an ApiVersions request and reads its answer; an error if the connection
/// is closed.
async fn api_versions(stream: &mut TcpStream, correlation_id: i32) -> io::Result<()> {
    stream
        .write_all(&api_versions_request(correlation_id))
        .await?;
    let answered = read_api_versions_response(stream).await?;
    assert_eq!(answered, correlation_id);
    Ok(())
}

/// Waits for the broker to close `stream`: end of stream or a reset, whatever is
/// read before it.
async fn closed_by_broker(stream: &mut TcpStream) -> bool {
    let drain = async {
        let mut scratch = [0u8; 4096];
        loop {
            match stream.read(&mut scratch).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(PATIENCE, drain).await.unwrap_or(false)
}

fn expect_ok<T, E: Debug>(result: Result<T, E>, what: &str) -> T {
    result.unwrap_or_else(|error| panic!("{what}: {error:?}"))
}

#[tokio::test]
async fn the_connection_over_the_per_ip_limit_is_closed_and_the_first_ones_keep_working() {
    let broker = Broker::start(&[("max.connections.per.ip", "3")]).await;
    let mut held = Vec::new();
    for n in 0..3 {
        let mut stream = broker.connect().await;
        expect_ok(
            api_versions(&mut stream, n).await,
            "a connection within the limit",
        );
        held.push(stream);
    }

    let mut over = broker.connect().await;
    // The broker closes it unread; the request may or may not get through the
    // client's socket before the close arrives.
    let _ = over.write_all(&api_versions_request(99)).await;
    assert!(
        closed_by_broker(&mut over).await,
        "the fourth connection stays open"
    );

    // The three keep being served, and another client host is not affected.
    for (n, stream) in held.iter_mut().enumerate() {
        expect_ok(
            api_versions(stream, 10 + n as i32).await,
            "a held connection",
        );
    }
    let mut other_host = broker.connect_from(Ipv4Addr::new(127, 0, 0, 2)).await;
    expect_ok(api_versions(&mut other_host, 20).await, "another address");

    // Closing one frees its slot (as soon as the broker has seen the close).
    drop(held.pop());
    let mut replaced = false;
    for attempt in 0..500 {
        let mut stream = broker.connect().await;
        if api_versions(&mut stream, 30 + attempt).await.is_ok() {
            replaced = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(replaced, "a freed slot was never given back");
    broker.stop().await;
}

#[tokio::test]
async fn max_connections_counts_every_address() {
    let broker = Broker::start(&[("max.connections", "2")]).await;
    let mut a = broker.connect_from(Ipv4Addr::new(127, 0, 0, 1)).await;
    let mut b = broker.connect_from(Ipv4Addr::new(127, 0, 0, 2)).await;
    expect_ok(api_versions(&mut a, 1).await, "first connection");
    expect_ok(api_versions(&mut b, 2).await, "second connection");
    let mut c = broker.connect_from(Ipv4Addr::new(127, 0, 0, 3)).await;
    assert!(
        closed_by_broker(&mut c).await,
        "a third connection stays open"
    );
    expect_ok(
        api_versions(&mut a, 3).await,
        "first connection after the refusal",
    );
    expect_ok(
        api_versions(&mut b, 4).await,
        "second connection after the refusal",
    );
    broker.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_idle_connection_is_closed_after_connections_max_idle_ms() {
    // Virtual time: the clock jumps to the next timer whenever every task waits,
    // so the test neither sleeps for real nor depends on the machine's speed.
    let broker = Broker::start(&[("connections.max.idle.ms", "1000")]).await;
    let mut stream = broker.connect().await;
    // Requests 600 ms apart keep it open well past one idle timeout.
    for n in 0..5 {
        expect_ok(api_versions(&mut stream, n).await, "an active connection");
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    // Then silence: the broker closes it.
    assert!(
        closed_by_broker(&mut stream).await,
        "the idle connection stays open"
    );
    // Other clients are unaffected.
    let mut fresh = broker.connect().await;
    expect_ok(api_versions(&mut fresh, 9).await, "a new connection");
    broker.stop().await;
}

#[tokio::test]
async fn a_flood_of_oversized_frames_closes_only_the_offenders() {
    let broker = Broker::start(&[("socket.request.max.bytes", "1024")]).await;
    let mut normal = broker.connect().await;
    expect_ok(api_versions(&mut normal, 0).await, "before the flood");
    for n in 0..20 {
        let mut offender = broker.connect_from(Ipv4Addr::new(127, 0, 0, 9)).await;
        // Alternately a 2 GiB claim with nothing behind it, and a 4 KiB frame
        // actually sent in full.
        let frame: Vec<u8> = if n % 2 == 0 {
            [&i32::MAX.to_be_bytes()[..], &[0xab; 64]].concat()
        } else {
            [&4096i32.to_be_bytes()[..], &[0xcd; 4096]].concat()
        };
        let _ = offender.write_all(&frame).await;
        assert!(
            closed_by_broker(&mut offender).await,
            "offender {n} stays open"
        );
        expect_ok(
            api_versions(&mut normal, n + 1).await,
            "the normal client during the flood",
        );
    }
    // A request exactly at the limit is still served on a fresh connection.
    let mut at_limit = broker.connect().await;
    let mut frame = api_versions_request(100);
    frame[..4].copy_from_slice(&1024i32.to_be_bytes());
    frame.resize(4 + 1024, 0); // the body carries trailing bytes, which are ignored
    at_limit.write_all(&frame).await.unwrap();
    assert_eq!(
        expect_ok(
            read_api_versions_response(&mut at_limit).await,
            "at the limit"
        ),
        100
    );
    broker.stop().await;
}

/// Counts the connection's "reading paused" events.
struct PauseCounter(Arc<AtomicUsize>);

struct MessageVisitor(String);

impl tracing::field::Visit for MessageVisitor {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl tracing::Subscriber for PauseCounter {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut message = MessageVisitor(String::new());
        event.record(&mut message);
        if message.0.contains("reading paused") {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn pipelining_past_the_in_flight_limit_pauses_reading_and_answers_everything_in_order() {
    // The test runtime runs every task on this thread, so a thread-local subscriber
    // sees the broker's events.
    let pauses = Arc::new(AtomicUsize::new(0));
    let _guard = tracing::subscriber::set_default(PauseCounter(pauses.clone()));
    let broker = Broker::start(&[("weir.max.in.flight.requests.per.connection", "2")]).await;
    let mut stream = broker.connect().await;
    let requests: Vec<u8> = (0..200).flat_map(api_versions_request).collect();
    // All 200 requests go out in one write: far more than the limit is buffered on
    // the broker's side of the socket at once.
    let (mut reader, mut writer) = stream.split();
    let write = async {
        writer.write_all(&requests).await.unwrap();
    };
    let read = async {
        let mut answered = Vec::new();
        for _ in 0..200 {
            let size = reader.read_i32().await.unwrap();
            let mut body = vec![0; size as usize];
            reader.read_exact(&mut body).await.unwrap();
            answered.push(i32::from_be_bytes(body[..4].try_into().unwrap()));
        }
        answered
    };
    let ((), answered) = tokio::time::timeout(PATIENCE, async { tokio::join!(write, read) })
        .await
        .expect("every pipelined request is answered");
    assert_eq!(answered, (0..200).collect::<Vec<_>>());
    assert!(
        pauses.load(Ordering::Relaxed) > 0,
        "the connection never reached its in-flight limit"
    );
    broker.stop().await;
}
