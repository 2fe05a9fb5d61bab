//! SOCKS5 proxies: with `socks5h://` the proxy is handed the name (it resolves); with
//! `socks5://` the name is resolved and checked here and the proxy is handed the address.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use fetch::{BlockReason, FetchError, FetchPolicy, Fetcher, StaticResolver, Url};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::TestServer;

/// A minimal SOCKS5 proxy (no auth, CONNECT only) that records each requested destination and
/// always connects to `upstream`, whatever was asked: no traffic can leave loopback.
struct SocksProxy {
    addr: SocketAddr,
    requested: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SocksProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    mut client: TcpStream,
    upstream: SocketAddr,
    requested: Arc<Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    let mut head = [0u8; 2];
    client.read_exact(&mut head).await?;
    let mut methods = vec![0u8; usize::from(head[1])];
    client.read_exact(&mut methods).await?;
    client.write_all(&[5, 0]).await?;
    let mut req = [0u8; 4];
    client.read_exact(&mut req).await?;
    let dest = match req[3] {
        1 => {
            let mut a = [0u8; 4];
            client.read_exact(&mut a).await?;
            std::net::Ipv4Addr::from(a).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            client.read_exact(&mut len).await?;
            let mut name = vec![0u8; usize::from(len[0])];
            client.read_exact(&mut name).await?;
            String::from_utf8_lossy(&name).into_owned()
        }
        4 => {
            let mut a = [0u8; 16];
            client.read_exact(&mut a).await?;
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => return Ok(()),
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port).await?;
    requested
        .lock()
        .expect("lock")
        .push(format!("{dest}:{}", u16::from_be_bytes(port)));
    let mut server = TcpStream::connect(upstream).await?;
    client.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
    tokio::io::copy_bidirectional(&mut client, &mut server).await?;
    Ok(())
}

async fn start_socks(upstream: SocketAddr) -> SocksProxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let requested = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&requested);
    let task = tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let _ = handle(client, upstream, log).await;
            });
        }
    });
    SocksProxy {
        addr,
        requested,
        task,
    }
}

fn resolver() -> Arc<StaticResolver> {
    Arc::new(
        StaticResolver::new()
            .with("allowed.test", [[127, 0, 0, 2].into()])
            .with("evil.test", [[10, 0, 0, 1].into()]),
    )
}

#[tokio::test]
async fn socks5h_hands_the_name_to_the_proxy() {
    let site = TestServer::start("127.0.0.1").await;
    let proxy = start_socks(site.addr).await;
    let f = Fetcher::new(
        FetchPolicy::new()
            .proxy(format!("socks5h://{}", proxy.addr))
            .resolver(resolver()),
    )
    .expect("build");
    // evil.test would resolve to 10.0.0.1 here, but with socks5h the proxy resolves: the name
    // is passed on unchecked (documented: the proxy must refuse private destinations).
    let got = f
        .fetch(&"http://evil.test/simple.html".parse::<Url>().expect("url"))
        .await
        .expect("via proxy");
    assert_eq!(got.status, 200);
    assert_eq!(got.remote_addr, Some(proxy.addr));
    assert_eq!(
        *proxy.requested.lock().expect("lock"),
        vec!["evil.test:80".to_owned()]
    );
    // IP literals are still checked before anything is sent.
    let err = f
        .fetch(&"http://169.254.169.254/".parse::<Url>().expect("url"))
        .await
        .expect_err("literal");
    assert!(
        matches!(
            err,
            FetchError::Blocked {
                reason: BlockReason::LinkLocal,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(proxy.requested.lock().expect("lock").len(), 1);
}

#[tokio::test]
async fn socks5_resolves_and_checks_locally() {
    let site = TestServer::start("127.0.0.1").await;
    let proxy = start_socks(site.addr).await;
    let f = Fetcher::new(
        FetchPolicy::new()
            .proxy(format!("socks5://{}", proxy.addr))
            .allow_addresses(["127.0.0.2/32"])
            .resolver(resolver()),
    )
    .expect("build");
    let err = f
        .fetch(&"http://evil.test/simple.html".parse::<Url>().expect("url"))
        .await
        .expect_err("checked locally");
    assert!(
        matches!(
            err,
            FetchError::Blocked {
                reason: BlockReason::Private,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        proxy.requested.lock().expect("lock").is_empty(),
        "nothing sent to the proxy"
    );

    let got = f
        .fetch(
            &"http://allowed.test/simple.html"
                .parse::<Url>()
                .expect("url"),
        )
        .await
        .expect("checked address handed to the proxy");
    assert_eq!(got.status, 200);
    assert_eq!(
        *proxy.requested.lock().expect("lock"),
        vec!["127.0.0.2:80".to_owned()],
        "the proxy got the checked address, not the name"
    );
}
