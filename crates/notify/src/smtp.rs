//! Handing built e-mails to an SMTP server and reporting what it answered.
//!
//! [`SmtpSender::send`] makes exactly one attempt and returns a [`DeliveryResult`]: accepted
//! (with the server's reply), or rejected temporarily or permanently (with the reply code when
//! the server gave one). It never retries: the job queue owns retries and back-off, and the
//! caller records every result on the notice.
//!
//! TLS is rustls with the platform's certificate verifier; extra root certificates can be added
//! for a private relay, and verification cannot be switched off. [`TlsMode::Plain`] exists for
//! a relay on the same host (or the test sink) and refuses non-loopback hosts.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::error::Error;
use crate::mail::OutgoingMail;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// TLS from the first byte (submissions, usually port 465).
    Implicit,
    /// Plain connection upgraded with STARTTLS, which is required (usually port 587 or 25).
    StartTls,
    /// No TLS at all; only allowed for loopback hosts (a local relay, tests).
    Plain,
}

/// User name and password for SMTP AUTH.
#[derive(Clone, serde::Deserialize)]
pub struct SmtpCredentials {
    /// User name.
    pub username: String,
    /// Password (never printed by `Debug`).
    pub password: String,
}

impl fmt::Debug for SmtpCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Where and how to send.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct SmtpConfig {
    /// Server host name (also the name checked in its certificate) or IP address.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Connection protection.
    pub tls: TlsMode,
    /// SMTP AUTH credentials, if the server needs them.
    pub credentials: Option<SmtpCredentials>,
    /// Upper bound for one whole delivery attempt (connect, TLS, dialogue, data); each socket
    /// operation is bounded by it too.
    pub timeout: Duration,
    /// Name given in `EHLO`; the local host name when absent.
    pub hello_name: Option<String>,
    /// Extra trusted root certificates (PEM), for a relay with a private CA.
    pub extra_root_certificates_pem: Option<String>,
}

/// A three-digit SMTP reply code, e.g. 250, 451, 550.
pub type SmtpCode = u16;

/// What the server did with one message; the caller records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryResult {
    /// The server took responsibility for the message (2xx after DATA).
    Accepted {
        /// Reply code, normally 250.
        code: SmtpCode,
        /// Reply text (often carries the server's queue id).
        message: String,
    },
    /// Not delivered now; trying again later may work (4xx reply, connection failure,
    /// timeout, TLS failure).
    Temporary {
        /// Reply code when the server answered.
        code: Option<SmtpCode>,
        /// Reply text or the failure.
        message: String,
    },
    /// Refused for good (5xx reply, or a message the client cannot send): retrying the same
    /// message to the same address will not help.
    Permanent {
        /// Reply code when the server answered.
        code: Option<SmtpCode>,
        /// Reply text or the failure.
        message: String,
    },
}

impl DeliveryResult {
    /// True when the server accepted the message.
    pub fn is_accepted(&self) -> bool {
        matches!(self, DeliveryResult::Accepted { .. })
    }
}

/// Sends [`OutgoingMail`]s over SMTP, one attempt each.
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    timeout: Duration,
    server: String,
}

impl fmt::Debug for SmtpSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSender")
            .field("server", &self.server)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SmtpSender {
    /// Prepares a sender; connects only when sending.
    pub fn new(config: &SmtpConfig) -> Result<SmtpSender, Error> {
        if config.host.is_empty() {
            return Err(Error::SmtpConfig("empty host".to_owned()));
        }
        if config.timeout.is_zero() {
            return Err(Error::SmtpConfig("timeout must be above zero".to_owned()));
        }
        let tls = match config.tls {
            TlsMode::Plain => {
                if !is_loopback_host(&config.host) {
                    return Err(Error::SmtpConfig(format!(
                        "plain SMTP is only allowed to a loopback host, not {:?}",
                        config.host
                    )));
                }
                Tls::None
            }
            TlsMode::StartTls => Tls::Required(tls_parameters(config)?),
            TlsMode::Implicit => Tls::Wrapper(tls_parameters(config)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .tls(tls)
            .timeout(Some(config.timeout));
        if let Some(name) = &config.hello_name {
            builder = builder.hello_name(ClientId::Domain(name.clone()));
        }
        if let Some(credentials) = &config.credentials {
            builder = builder.credentials(Credentials::new(
                credentials.username.clone(),
                credentials.password.clone(),
            ));
        }
        Ok(SmtpSender {
            transport: builder.build(),
            timeout: config.timeout,
            server: format!("{}:{}", config.host, config.port),
        })
    }

    /// Makes one delivery attempt of `mail` and reports the outcome.
    #[tracing::instrument(skip_all, fields(message_id = %mail.message_id, server = %self.server))]
    pub async fn send(&self, mail: &OutgoingMail) -> DeliveryResult {
        let envelope = match envelope(mail) {
            Ok(envelope) => envelope,
            Err(message) => {
                return DeliveryResult::Permanent {
                    code: None,
                    message,
                };
            }
        };
        let attempt = self.transport.send_raw(&envelope, &mail.raw);
        let result = match tokio::time::timeout(self.timeout, attempt).await {
            Err(_) => DeliveryResult::Temporary {
                code: None,
                message: format!("no answer within {:?}", self.timeout),
            },
            Ok(Ok(response)) => DeliveryResult::Accepted {
                code: u16::from(response.code()),
                message: response.message().collect::<Vec<_>>().join(" "),
            },
            Ok(Err(error)) => classify(&error),
        };
        match &result {
            DeliveryResult::Accepted { code, .. } => tracing::info!(code, "notice accepted"),
            DeliveryResult::Temporary { code, message } => {
                tracing::warn!(?code, %message, "notice deferred");
            }
            DeliveryResult::Permanent { code, message } => {
                tracing::warn!(?code, %message, "notice rejected");
            }
        }
        result
    }
}

fn envelope(mail: &OutgoingMail) -> Result<lettre::address::Envelope, String> {
    let from = mail
        .envelope_from
        .parse()
        .map_err(|e| format!("envelope sender {:?}: {e}", mail.envelope_from))?;
    let to = mail
        .envelope_to
        .iter()
        .map(|address| {
            address
                .parse()
                .map_err(|e| format!("envelope recipient {address:?}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    lettre::address::Envelope::new(Some(from), to).map_err(|e| format!("envelope: {e}"))
}

fn classify(error: &lettre::transport::smtp::Error) -> DeliveryResult {
    use std::error::Error as _;
    let code = error.status().map(u16::from);
    let message = error
        .source()
        .map_or_else(|| error.to_string(), |source| source.to_string());
    if error.is_permanent() {
        DeliveryResult::Permanent { code, message }
    } else if error.is_transient() {
        DeliveryResult::Temporary { code, message }
    } else if error.is_client() {
        // The client refused to send (e.g. non-ASCII address without SMTPUTF8): the same
        // message will fail the same way.
        DeliveryResult::Permanent {
            code: None,
            message: error.to_string(),
        }
    } else {
        // Connection refused, network error, TLS failure, unparsable reply, timeout.
        DeliveryResult::Temporary {
            code: None,
            message: error.to_string(),
        }
    }
}

fn tls_parameters(config: &SmtpConfig) -> Result<TlsParameters, Error> {
    let mut builder = TlsParameters::builder(config.host.clone());
    if let Some(pem) = &config.extra_root_certificates_pem {
        // lettre accepts a PEM text without certificates; a typo'd setting must not pass.
        if !pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err(Error::SmtpConfig(
                "extra root certificates: no PEM certificate found".to_owned(),
            ));
        }
        let certificate = Certificate::from_pem(pem.as_bytes())
            .map_err(|e| Error::SmtpConfig(format!("root certificate: {e}")))?;
        builder = builder.add_root_certificate(certificate);
    }
    builder
        .build_rustls()
        .map_err(|e| Error::SmtpConfig(format!("tls: {e}")))
}

fn is_loopback_host(host: &str) -> bool {
    let trimmed = host.trim_start_matches('[').trim_end_matches(']');
    match trimmed.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => trimmed.eq_ignore_ascii_case("localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(host: &str, tls: TlsMode) -> SmtpConfig {
        SmtpConfig {
            host: host.to_owned(),
            port: 25,
            tls,
            credentials: None,
            timeout: Duration::from_secs(5),
            hello_name: None,
            extra_root_certificates_pem: None,
        }
    }

    #[test]
    fn plain_smtp_only_to_loopback() {
        for host in ["127.0.0.1", "localhost", "::1", "[::1]"] {
            assert!(
                SmtpSender::new(&config(host, TlsMode::Plain)).is_ok(),
                "{host}"
            );
        }
        for host in ["smtp.example.com", "192.0.2.1"] {
            assert!(
                matches!(
                    SmtpSender::new(&config(host, TlsMode::Plain)),
                    Err(Error::SmtpConfig(_))
                ),
                "{host}"
            );
        }
        assert!(SmtpSender::new(&config("smtp.example.com", TlsMode::StartTls)).is_ok());
    }

    #[test]
    fn bad_settings_are_errors() {
        let mut zero = config("127.0.0.1", TlsMode::Plain);
        zero.timeout = Duration::ZERO;
        assert!(SmtpSender::new(&zero).is_err());
        assert!(SmtpSender::new(&config("", TlsMode::StartTls)).is_err());
        let mut bad_pem = config("smtp.example.com", TlsMode::Implicit);
        bad_pem.extra_root_certificates_pem = Some("not a certificate".to_owned());
        assert!(SmtpSender::new(&bad_pem).is_err());
    }

    #[test]
    fn credentials_are_redacted_in_debug() {
        let credentials = SmtpCredentials {
            username: "hotline".to_owned(),
            password: "hunter2".to_owned(),
        };
        let printed = format!("{credentials:?}");
        assert!(printed.contains("hotline") && !printed.contains("hunter2"));
    }
}
