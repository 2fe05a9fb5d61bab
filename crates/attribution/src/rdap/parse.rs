//! Reading RDAP JSON (RFC 9083) into the few facts attribution needs.
//!
//! Registries differ a lot in how they nest things: RIPE puts the abuse contact as a top-level
//! entity of the network; ARIN nests it inside the registrant organisation; domain registries
//! (Verisign style) nest the registrar's abuse contact inside the registrar entity. So entities
//! are read into a small tree and searched breadth-first: the shallowest match wins. Everything
//! is read defensively from `serde_json::Value`; a missing or odd field is simply absent.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::prefix::Prefix;

/// How deep entity nesting is followed (real data nests two or three levels).
const MAX_DEPTH: usize = 6;
/// How many entities are read at most from one response.
const MAX_ENTITIES: usize = 200;

/// One RDAP entity with its vCard facts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Entity {
    pub(crate) handle: Option<String>,
    pub(crate) roles: Vec<String>,
    /// vCard `fn` (formatted name).
    pub(crate) full_name: Option<String>,
    /// vCard `org`.
    pub(crate) org: Option<String>,
    /// vCard `email`s (without `mailto:`).
    pub(crate) emails: Vec<String>,
    /// vCard `adr` country (the last address component, or the `cc` parameter).
    pub(crate) country: Option<String>,
    /// `publicIds`: (type, identifier).
    pub(crate) public_ids: Vec<(String, String)>,
    pub(crate) entities: Vec<Entity>,
}

impl Entity {
    pub(crate) fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r.eq_ignore_ascii_case(role))
    }

    /// The best display name: `fn`, else `org`, else the handle.
    pub(crate) fn name(&self) -> Option<String> {
        self.full_name
            .clone()
            .or_else(|| self.org.clone())
            .or_else(|| self.handle.clone())
    }
}

/// Reads the `entities` array of an RDAP object.
pub(crate) fn entities_of(obj: &Value) -> Vec<Entity> {
    let mut budget = MAX_ENTITIES;
    read_entities(obj, 0, &mut budget)
}

fn read_entities(obj: &Value, depth: usize, budget: &mut usize) -> Vec<Entity> {
    let Some(list) = obj.get("entities").and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in list {
        if *budget == 0 || depth >= MAX_DEPTH {
            break;
        }
        *budget -= 1;
        out.push(read_entity(e, depth, budget));
    }
    out
}

fn read_entity(e: &Value, depth: usize, budget: &mut usize) -> Entity {
    let mut ent = Entity {
        handle: str_field(e, "handle"),
        roles: e
            .get("roles")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(|s| s.trim().to_ascii_lowercase())
                    .collect()
            })
            .unwrap_or_default(),
        public_ids: e
            .get("publicIds")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|p| Some((str_field(p, "type")?, str_field(p, "identifier")?)))
                    .collect()
            })
            .unwrap_or_default(),
        ..Entity::default()
    };
    read_vcard(e, &mut ent);
    ent.entities = read_entities(e, depth + 1, budget);
    ent
}

/// jCard (RFC 7095): `["vcard", [[name, params, type, value, ...], ...]]`.
fn read_vcard(e: &Value, ent: &mut Entity) {
    let Some(props) = e
        .get("vcardArray")
        .and_then(Value::as_array)
        .and_then(|a| a.get(1))
        .and_then(Value::as_array)
    else {
        return;
    };
    for p in props {
        let Some(p) = p.as_array() else { continue };
        let Some(name) = p.first().and_then(Value::as_str) else {
            continue;
        };
        let value = p.get(3);
        match name.to_ascii_lowercase().as_str() {
            "fn" => {
                if let Some(v) = value.and_then(text_value) {
                    ent.full_name.get_or_insert(v);
                }
            }
            "org" => {
                if let Some(v) = value.and_then(text_value) {
                    ent.org.get_or_insert(v);
                }
            }
            "email" => {
                // Several values may follow the type.
                for v in p.iter().skip(3).filter_map(text_value) {
                    let v = v.strip_prefix("mailto:").unwrap_or(&v).trim().to_owned();
                    if v.contains('@') && !ent.emails.iter().any(|x| x.eq_ignore_ascii_case(&v)) {
                        ent.emails.push(v);
                    }
                }
            }
            "adr" => {
                let cc = p
                    .get(1)
                    .and_then(|params| params.get("cc"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                let last = value
                    .and_then(Value::as_array)
                    .and_then(|a| a.last())
                    .and_then(text_value);
                if ent.country.is_none() {
                    ent.country = cc.or(last);
                }
            }
            _ => {}
        }
    }
}

/// A text value; arrays (structured `org`) are joined with "; ", empty strings are absent.
fn text_value(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.trim().to_owned(),
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; "),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

pub(crate) fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Breadth-first search for the shallowest entity with `role` that satisfies `pred`.
pub(crate) fn find_role<'a>(
    entities: &'a [Entity],
    role: &str,
    pred: impl Fn(&Entity) -> bool,
) -> Option<&'a Entity> {
    let mut level: Vec<&Entity> = entities.iter().collect();
    while !level.is_empty() {
        if let Some(e) = level.iter().find(|e| e.has_role(role) && pred(e)) {
            return Some(e);
        }
        level = level.iter().flat_map(|e| e.entities.iter()).collect();
    }
    None
}

/// `events` → (action, date) pairs with parseable dates.
pub(crate) fn events_of(obj: &Value) -> Vec<(String, DateTime<Utc>)> {
    obj.get("events")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|e| {
                    let action = str_field(e, "eventAction")?.to_ascii_lowercase();
                    let date = str_field(e, "eventDate")?;
                    let date = DateTime::parse_from_rfc3339(&date)
                        .ok()?
                        .with_timezone(&Utc);
                    Some((action, date))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// An IP network's CIDRs from the `cidr0_cidrs` extension.
pub(crate) fn cidrs_of(obj: &Value) -> Vec<Prefix> {
    obj.get("cidr0_cidrs")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| {
                    let addr = str_field(c, "v4prefix").or_else(|| str_field(c, "v6prefix"))?;
                    let addr: IpAddr = addr.parse().ok()?;
                    let len = u8::try_from(c.get("length")?.as_u64()?).ok()?;
                    Prefix::new(addr, len)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The `status` array, lower-case.
pub(crate) fn status_of(obj: &Value) -> Vec<String> {
    obj.get("status")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|s| s.trim().to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_abuse_entity_is_found_breadth_first() {
        let obj = json!({
            "entities": [
                {"handle": "ORG-1", "roles": ["registrant"],
                 "vcardArray": ["vcard", [["version", {}, "text", "4.0"],
                                          ["fn", {}, "text", "Example Org"],
                                          ["adr", {"cc": "NL"}, "text", ["", "", "", "", "", "", ""]]]],
                 "entities": [
                    {"handle": "ABUSE-DEEP", "roles": ["abuse"],
                     "vcardArray": ["vcard", [["email", {}, "text", "deep@example.net"]]]}
                 ]},
                {"handle": "TECH", "roles": ["technical"],
                 "vcardArray": ["vcard", [["email", {}, "text", "tech@example.net"]]]}
            ]
        });
        let ents = entities_of(&obj);
        let abuse = find_role(&ents, "abuse", |e| !e.emails.is_empty()).expect("abuse");
        assert_eq!(abuse.emails, ["deep@example.net"]);
        let org = find_role(&ents, "registrant", |_| true).expect("registrant");
        assert_eq!(org.name().as_deref(), Some("Example Org"));
        assert_eq!(org.country.as_deref(), Some("NL"));
        assert!(find_role(&ents, "registrar", |_| true).is_none());
    }

    #[test]
    fn odd_values_are_absent_not_errors() {
        let obj = json!({"entities": [{"roles": "abuse", "vcardArray": ["vcard", "x"]}, 5],
                         "events": [{"eventAction": "registration", "eventDate": "not a date"}],
                         "cidr0_cidrs": [{"v4prefix": "192.0.2.0", "length": 99}]});
        let ents = entities_of(&obj);
        assert_eq!(ents.len(), 2);
        assert!(ents[0].roles.is_empty());
        assert!(events_of(&obj).is_empty());
        assert!(cidrs_of(&obj).is_empty());
    }
}
