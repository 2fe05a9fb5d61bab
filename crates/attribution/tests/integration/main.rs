//! Integration tests: a real loopback RDAP server with hand-written registry-style fixtures,
//! prefix tables, MMDB, rules and the whole attributor.

mod attributor;
mod mmdb;
mod mmdb_writer;
mod rdap;
mod support;
mod tables;
