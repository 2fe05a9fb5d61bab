//! Integration tests against real HTTP servers on loopback. No traffic leaves the machine: every
//! non-loopback destination in these tests must be refused before a connection is attempted.

mod fetching;
mod socks;
mod ssrf;
mod support;
mod tls;
