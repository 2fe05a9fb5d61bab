//! TLS is always verified: a loopback HTTPS server with a throw-away certificate is only
//! reachable once its certificate is explicitly trusted, and only under the name it was issued for.

use std::net::SocketAddr;
use std::sync::Arc;

use fetch::{FetchError, FetchPolicy, Fetcher, StaticResolver, Url};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An HTTPS server on 127.0.0.1 that answers every request with a fixed page.
struct TlsServer {
    addr: SocketAddr,
    cert_pem: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start_tls_server(names: &[&str]) -> TlsServer {
    let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    let certified = rcgen::generate_simple_self_signed(names).expect("certificate");
    let cert_pem = certified.cert.pem();
    let cert_der = certified.cert.der().clone();
    let key_der =
        rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_no_client_auth()
    .with_single_cert(vec![cert_der], key_der)
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // Handshake failures are expected in these tests.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let body = "<html><body>secure</body></html>";
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    TlsServer {
        addr,
        cert_pem,
        task,
    }
}

fn policy() -> FetchPolicy {
    FetchPolicy::new()
        .allow_addresses(["127.0.0.1/32"])
        .resolver(Arc::new(
            StaticResolver::new().with("secure.test", [[127, 0, 0, 1].into()]),
        ))
}

#[tokio::test]
async fn untrusted_certificate_is_refused() {
    let server = start_tls_server(&["secure.test"]).await;
    let f = Fetcher::new(policy()).expect("build");
    let url: Url = format!("https://secure.test:{}/", server.addr.port())
        .parse()
        .expect("url");
    let err = f.fetch(&url).await.expect_err("self-signed must fail");
    assert!(matches!(err, FetchError::Tls { .. }), "{err}");
}

#[tokio::test]
async fn trusted_certificate_works_but_only_for_its_name() {
    let server = start_tls_server(&["secure.test"]).await;
    let f =
        Fetcher::new(policy().add_root_certificate_pem(server.cert_pem.clone())).expect("build");
    let url: Url = format!("https://secure.test:{}/", server.addr.port())
        .parse()
        .expect("url");
    let ok = f.fetch(&url).await.expect("trusted certificate");
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body.as_ref(), b"<html><body>secure</body></html>");
    assert_eq!(ok.remote_addr, Some(server.addr));

    // Same server and trusted root, but reached by IP: the certificate does not name it.
    let by_ip: Url = format!("https://{}/", server.addr).parse().expect("url");
    let err = f.fetch(&by_ip).await.expect_err("name mismatch");
    assert!(matches!(err, FetchError::Tls { .. }), "{err}");
}
