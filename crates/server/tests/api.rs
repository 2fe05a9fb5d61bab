//! Behaviour of the hash-check service, one test per behaviour, each against a real server on a
//! random loopback port with a fresh SQLite data directory.

mod common;

use common::{Key, TestServer, assert_problem, hashes, image, pdq_at_distance};
use reqwest::StatusCode;
use serde_json::{Value, json};

const MD5: &str = "0123456789abcdef0123456789abcdef";

async fn server_with_known_pdq() -> (TestServer, Key, i64, String) {
    let s = TestServer::start().await;
    let key = s.key(s.tenant, "Hoster").await;
    let list = s.list(s.tenant, "known", "known").await;
    let (pdq, _) = hashes("bridge-mods/aaa-orig.jpg");
    s.upload_ok(list, "type=pdq&source=test", &format!("{pdq}\n"))
        .await;
    (s, key, list, pdq)
}

#[tokio::test(flavor = "multi_thread")]
async fn health_ready_metrics_openapi_and_unknown_routes_are_problems() {
    let s = TestServer::start().await;
    let get = |p: &str| s.http.get(format!("{}{p}", s.base));
    let (st, _, v) = s.send(get("/healthz")).await;
    assert_eq!((st, v["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (st, _, _) = s.send(get("/readyz")).await;
    assert_eq!(st, StatusCode::OK);
    let (st, _, doc) = s.send(get("/api/openapi.json")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(doc["paths"]["/api/v1/check"]["post"].is_object(), "{doc}");
    assert!(doc["paths"]["/v1/pdq/"]["post"].is_object());
    let text = s
        .http
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("schoon_http_requests_total"), "{text}");
    assert!(
        text.contains("route=\"/healthz\""),
        "routes are labelled by template: {text}"
    );
    let r = s.send(get("/api/v1/nope")).await;
    assert_problem(&r, StatusCode::NOT_FOUND);
    let r = s.send(get("/api/v1/check")).await;
    assert_problem(&r, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_missing_invalid_revoked_and_wrong_role() {
    let (s, key, _, pdq) = server_with_known_pdq().await;
    let body = json!({"hashes": [{"type": "pdq", "value": pdq}]});
    let url = format!("{}/api/v1/check", s.base);

    let r = s.send(s.http.post(&url).json(&body)).await;
    let p = assert_problem(&r, StatusCode::UNAUTHORIZED);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("missing credentials")
    );

    let wrong = format!("{}.{}", key.id, "0".repeat(64));
    let r = s.check(&wrong, body.clone()).await;
    assert_problem(&r, StatusCode::UNAUTHORIZED);
    let r = s.check("garbage", body.clone()).await;
    assert_problem(&r, StatusCode::UNAUTHORIZED);

    // Basic auth works like Bearer
    let (st, _, _) = s
        .send(
            s.http
                .post(&url)
                .basic_auth(&key.id, Some(&key.secret))
                .json(&body),
        )
        .await;
    assert_eq!(st, StatusCode::OK);

    // the admin token is not a check key, a check key is not an admin token
    let r = s.check(&s.admin.clone(), body.clone()).await;
    assert_problem(&r, StatusCode::FORBIDDEN);
    let r = s
        .send(
            s.http
                .get(format!("{}/api/admin/tenants", s.base))
                .bearer_auth(&key.token),
        )
        .await;
    assert_problem(&r, StatusCode::FORBIDDEN);

    let (st, v) = s
        .admin_post(
            &format!("/api/admin/keys/{}/revoke", key.id),
            json!({"reason": "leaked"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let r = s.check(&key.token, body).await;
    let p = assert_problem(&r, StatusCode::UNAUTHORIZED);
    assert!(p["detail"].as_str().unwrap().contains("revoked"));
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_hex_wrong_length_and_unknown_type_are_listed_by_index_and_nothing_is_checked() {
    let (s, key, _, pdq) = server_with_known_pdq().await;
    let r = s
        .check(
            &key.token,
            json!({"hashes": [
                {"type": "pdq", "value": pdq},
                {"type": "md5", "value": "zz23456789abcdef0123456789abcdef"},
                {"type": "sha1", "value": "abcd"},
                {"type": "photodna", "value": MD5},
            ]}),
        )
        .await;
    let p = assert_problem(&r, StatusCode::BAD_REQUEST);
    let errs = p["errors"].as_array().unwrap();
    let idx: Vec<u64> = errs.iter().map(|e| e["index"].as_u64().unwrap()).collect();
    assert_eq!(idx, [1, 2, 3], "{p}");
    assert!(
        errs[0]["detail"]
            .as_str()
            .unwrap()
            .contains("invalid hex digit")
    );
    assert!(
        errs[1]["detail"]
            .as_str()
            .unwrap()
            .contains("40 hex digits")
    );
    assert!(
        errs[2]["detail"]
            .as_str()
            .unwrap()
            .contains("unknown signal type")
    );
    // the valid first item was not checked either: no hit recorded
    let (_, hits) = s
        .admin_get(&format!("/api/admin/tenants/{}/hits", s.tenant))
        .await;
    assert_eq!(hits.as_array().unwrap().len(), 0);
    // broken JSON is a problem too
    let r = s
        .send(
            s.http
                .post(format!("{}/api/v1/check", s.base))
                .bearer_auth(&key.token)
                .header("content-type", "application/json")
                .body("{\"hashes\": ["),
        )
        .await;
    assert_problem(&r, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_batch_is_refused() {
    let (s, key, _, _) = server_with_known_pdq().await;
    let hashes: Vec<Value> = (0..10_001)
        .map(|_| json!({"type": "md5", "value": MD5}))
        .collect();
    let r = s.check(&key.token, json!({"hashes": hashes})).await;
    let p = assert_problem(&r, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(p["detail"].as_str().unwrap().contains("10000"), "{p}");
    // exactly 10,000 is fine
    let hashes: Vec<Value> = (0..10_000)
        .map(|_| json!({"type": "md5", "value": MD5}))
        .collect();
    let (st, _, v) = s.check(&key.token, json!({"hashes": hashes})).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["results"].as_array().unwrap().len(), 10_000);
}

#[tokio::test(flavor = "multi_thread")]
async fn pdq_near_match_reports_distance_radius_and_quality_and_records_hits() {
    let (s, key, list, pdq) = server_with_known_pdq().await;
    let near = pdq_at_distance(&pdq, 20);
    let (st, _, v) = s
        .check(
            &key.token,
            json!({"content_url": "https://host.example/a.jpg", "hashes": [
                {"type": "pdq", "value": near, "content_ref": "upload-42"},
                {"type": "pdq", "value": pdq_at_distance(&pdq, 40)},
            ]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let r0 = &v["results"][0];
    assert_eq!(r0["matched"], json!(true));
    assert_eq!(r0["matches"][0]["distance"], json!(20));
    assert_eq!(r0["matches"][0]["list"], json!("known"));
    assert_eq!(r0["matches"][0]["category"], json!("baseline"));
    let hit_id = r0["matches"][0]["hit_id"].as_i64().unwrap();
    assert_eq!(v["results"][1]["matched"], json!(false));

    // the hit is recorded with organisation, entry, references, open state and a 24 h deadline
    let (_, hits) = s
        .admin_get(&format!(
            "/api/admin/tenants/{}/hits?org={}",
            s.tenant, key.org
        ))
        .await;
    let h = &hits[0];
    assert_eq!(h["id"].as_i64(), Some(hit_id));
    assert_eq!(h["org_id"].as_i64(), Some(key.org));
    assert_eq!(h["content_ref"], json!("upload-42"));
    assert_eq!(h["content_url"], json!("https://host.example/a.jpg"));
    assert_eq!(h["state"], json!("open"));
    assert_eq!(h["distance"], json!(20));
    let created = chrono::DateTime::parse_from_rfc3339(h["created_at"].as_str().unwrap()).unwrap();
    let deadline = chrono::DateTime::parse_from_rfc3339(h["deadline"].as_str().unwrap()).unwrap();
    assert_eq!(deadline - created, chrono::Duration::hours(24));

    // a smaller radius applies at once
    let (st, _, _) = s
        .send(
            s.http
                .patch(format!("{}/api/admin/lists/{list}", s.base))
                .bearer_auth(&s.admin)
                .json(&json!({"pdq_radius": 10})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        s.check_one(&key.token, "pdq", &near).await["matched"],
        json!(false)
    );

    // a quality below the list minimum (50) is not matched, and flagged
    let (_, _, v) = s
        .check(
            &key.token,
            json!({"hashes": [{"type": "pdq", "value": pdq, "quality": 30}]}),
        )
        .await;
    assert_eq!(v["results"][0]["matched"], json!(false));
    assert_eq!(v["results"][0]["quality_below_minimum"], json!(["known"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn another_tenants_list_is_not_visible() {
    let s = TestServer::start().await;
    let other = s.tenant("be").await;
    let other_list = s.list(other, "be-known", "known").await;
    s.upload_ok(other_list, "", &format!("{MD5}\n")).await;
    let ours = s.key(s.tenant, "Hoster NL").await;
    let theirs = s.key(other, "Hoster BE").await;
    assert_eq!(
        s.check_one(&ours.token, "md5", MD5).await["matched"],
        json!(false)
    );
    assert_eq!(
        s.check_one(&theirs.token, "md5", MD5).await["matched"],
        json!(true)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn allow_list_entries_suppress_hits_and_say_so() {
    let s = TestServer::start().await;
    let key = s.key(s.tenant, "Hoster").await;
    let known = s.list(s.tenant, "known", "known").await;
    let allow = s.list(s.tenant, "cms-defaults", "allow").await;
    s.upload_ok(known, "", &format!("{MD5}\n")).await;
    assert_eq!(
        s.check_one(&key.token, "md5", MD5).await["matched"],
        json!(true)
    );
    s.upload_ok(allow, "", &format!("{MD5}\n")).await;
    let r = s.check_one(&key.token, "md5", MD5).await;
    assert_eq!(r["matched"], json!(false));
    assert_eq!(r["suppressed"], json!(true));
    assert_eq!(r["matches"], json!([]));
    assert_eq!(r["allow_matches"][0]["list"], json!("cms-defaults"));
    let (_, hits) = s
        .admin_get(&format!("/api/admin/tenants/{}/hits", s.tenant))
        .await;
    assert_eq!(
        hits.as_array().unwrap().len(),
        1,
        "only the first check made a hit"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn revoked_entries_stop_matching_at_once_with_their_reason_kept() {
    let (s, key, list, pdq) = server_with_known_pdq().await;
    assert_eq!(
        s.check_one(&key.token, "pdq", &pdq).await["matched"],
        json!(true)
    );
    let (st, v) = s
        .admin_post(
            &format!("/api/admin/lists/{list}/revoke"),
            json!({"values": [{"type": "pdq", "value": pdq}], "reason": "benign stock photo"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["revoked"].as_array().unwrap().len(), 1);
    assert_eq!(
        s.check_one(&key.token, "pdq", &pdq).await["matched"],
        json!(false)
    );
    let (_, entries) = s
        .admin_get(&format!(
            "/api/admin/lists/{list}/entries?include_revoked=true"
        ))
        .await;
    assert_eq!(entries[0]["revoke_reason"], json!("benign stock photo"));
    // no reason, no revocation
    let (st, _) = s
        .admin_post(
            &format!("/api/admin/lists/{list}/revoke"),
            json!({"entry_ids": [1], "reason": ""}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn list_upload_with_bad_lines_reports_line_numbers_and_applies_nothing() {
    let s = TestServer::start().await;
    let key = s.key(s.tenant, "Hoster").await;
    let list = s.list(s.tenant, "known", "known").await;
    let good = "a".repeat(32);
    let file = format!(
        "# header comment\n{good}\n{MD5}\nnot-a-hash\n\n{}\n",
        "b".repeat(31)
    );
    let r = s.upload(list, "type=md5", &file).await;
    let p = assert_problem(&r, StatusCode::BAD_REQUEST);
    let lines: Vec<u64> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [4, 6], "{p}");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was imported")
    );
    assert_eq!(
        s.check_one(&key.token, "md5", &good).await["matched"],
        json!(false)
    );
    let (_, entries) = s
        .admin_get(&format!("/api/admin/lists/{list}/entries"))
        .await;
    assert_eq!(entries.as_array().unwrap().len(), 0);
    // CSV with provenance columns imports
    let csv = format!("signal_type,signal,category,source\nmd5,{good},national,partner-hotline\n");
    let v = s.upload_ok(list, "", &csv).await;
    assert_eq!(v["added"], json!(1));
    let r = s.check_one(&key.token, "md5", &good).await;
    assert_eq!(r["matches"][0]["category"], json!("national"));
}

#[tokio::test(flavor = "multi_thread")]
async fn media_check_hashes_bytes_and_matches_exact_and_near() {
    let s = TestServer::start().await;
    let key = s.key(s.tenant, "Hoster").await;
    let list = s.list(s.tenant, "known", "known").await;
    let (pdq, sha256) = hashes("bridge-mods/aaa-orig.jpg");
    s.upload_ok(list, "type=sha256", &format!("{sha256}\n"))
        .await;
    s.upload_ok(list, "type=pdq", &format!("{pdq}\n")).await;
    let send = |bytes: Vec<u8>| {
        s.send(
            s.http
                .post(format!("{}/api/v1/check/media?content_ref=u1", s.base))
                .bearer_auth(&key.token)
                .header("content-type", "image/jpeg")
                .body(bytes),
        )
    };
    let (st, _, v) = send(image("bridge-mods/aaa-orig.jpg")).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["sha256"], json!(sha256));
    assert_eq!(v["pdq"], json!(pdq));
    assert_eq!(v["matched"], json!(true));
    // a resized copy: no exact match, a PDQ near match
    let (_, _, v) = send(image("bridge-mods/shrink-a-lot.jpg")).await;
    assert_eq!(v["matched"], json!(true), "{v}");
    let pdq_result = &v["results"][0];
    assert_eq!(pdq_result["type"], json!("pdq"));
    assert!(pdq_result["matches"][0]["distance"].as_u64().unwrap() <= 31);
    // not an image
    let r = send(b"definitely not an image".to_vec()).await;
    assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread")]
async fn media_over_the_size_limit_is_refused() {
    let s = TestServer::start_with(|c| c.limits.max_media_bytes = 1000).await;
    let key = s.key(s.tenant, "Hoster").await;
    let r = s
        .send(
            s.http
                .post(format!("{}/api/v1/check/media", s.base))
                .bearer_auth(&key.token)
                .body(vec![0u8; 5000]),
        )
        .await;
    assert_problem(&r, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test(flavor = "multi_thread")]
async fn per_key_rate_limit_answers_429_with_retry_after() {
    let s = TestServer::start_with(|c| {
        c.rate_limit.per_second = 1;
        c.rate_limit.burst = 2;
    })
    .await;
    let key = s.key(s.tenant, "Hoster").await;
    let body = json!({"hashes": [{"type": "md5", "value": MD5}]});
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(s.check(&key.token, body.clone()).await);
    }
    assert_eq!(statuses[0].0, StatusCode::OK);
    let limited = statuses
        .iter()
        .find(|r| r.0 == StatusCode::TOO_MANY_REQUESTS)
        .expect("a 429");
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS);
    // another key has its own budget
    let other = s.key(s.tenant, "Other").await;
    assert_eq!(s.check(&other.token, body).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_list_updates_during_checks_give_whole_versions_and_no_errors() {
    let s = std::sync::Arc::new(TestServer::start().await);
    let key = s.key(s.tenant, "Hoster").await;
    let list = s.list(s.tenant, "known", "known").await;
    // batches of 200 digests: each import is all-or-nothing, so a check of a whole batch must
    // see all of it or none of it
    let batch = |b: usize| -> Vec<String> {
        (0..200)
            .map(|i| format!("{:032x}", b * 1000 + i + 1))
            .collect()
    };
    let stable = batch(0);
    s.upload_ok(list, "type=md5", &stable.join("\n")).await;

    let checker = {
        let s = s.clone();
        let token = key.token.clone();
        tokio::spawn(async move {
            let mut rounds = 0;
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(4);
            while std::time::Instant::now() < deadline {
                for b in [0usize, 1, 2, 3, 4, 5] {
                    let hashes: Vec<Value> = batch(b)
                        .iter()
                        .map(|h| json!({"type": "md5", "value": h}))
                        .collect();
                    let (st, _, v) = s.check(&token, json!({"hashes": hashes})).await;
                    assert_eq!(st, StatusCode::OK, "{v}");
                    let matched = v["results"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|r| r["matched"] == json!(true))
                        .count();
                    if b == 0 {
                        assert_eq!(matched, 200, "stable batch always fully matched");
                    } else {
                        assert!(
                            matched == 0 || matched == 200,
                            "torn: batch {b} matched {matched}"
                        );
                    }
                }
                rounds += 1;
            }
            rounds
        })
    };
    for b in 1..=5 {
        s.upload_ok(list, "type=md5", &batch(b).join("\n")).await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if b % 2 == 0 {
            let (st, _) = s
                .admin_post(&format!("/api/admin/lists/{list}/revoke"), json!({"values": batch(b).iter().map(|h| json!({"type": "md5", "value": h})).collect::<Vec<_>>(), "reason": "test"}))
                .await;
            assert_eq!(st, StatusCode::OK);
        }
    }
    let rounds = checker.await.unwrap();
    assert!(
        rounds > 3,
        "checks kept running during updates ({rounds} rounds)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_made_directly_in_the_database_reach_the_matcher_by_polling() {
    let s = TestServer::start().await;
    let key = s.key(s.tenant, "Hoster").await;
    let list = s.list(s.tenant, "known", "known").await;
    // as `schoon admin` would: another process writing the same database
    let store = store::SqliteStore::open(&s.dir.path().join("schoon.db"))
        .await
        .unwrap();
    let v = schoon_core::SignalValue::parse(schoon_core::SignalType::Md5, MD5).unwrap();
    store::Store::import_entries(
        &store,
        &store::Actor("cli:test".into()),
        list,
        vec![schoon_core::NewEntry {
            value: v,
            category: schoon_core::Category::Baseline,
            source: None,
            assessor: None,
        }],
        Value::Null,
    )
    .await
    .unwrap();
    let mut matched = false;
    for _ in 0..50 {
        if s.check_one(&key.token, "md5", MD5).await["matched"] == json!(true) {
            matched = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(matched, "the poll must pick up the change");
    let (st, v) = s.admin_get("/api/admin/audit/verify").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["intact"], json!(true));
}

#[tokio::test(flavor = "multi_thread")]
async fn shield_endpoints_answer_in_the_sdk_shape() {
    let (s, key, _, pdq) = server_with_known_pdq().await;
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(hex::decode(&pdq).unwrap());
    let other = base64::engine::general_purpose::STANDARD.encode([0u8; 32]);
    let (st, _, v) = s
        .send(
            s.http
                .post(format!("{}/v1/pdq/", s.base))
                .basic_auth(&key.id, Some(&key.secret))
                .json(&json!({"hashes": [b64, other]})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["scanned_hashes"][&b64]["classification"], json!("csam"));
    assert_eq!(v["scanned_hashes"][&b64]["match_type"], json!("near"));
    assert_eq!(
        v["scanned_hashes"][&b64]["near_match_details"]["distance"],
        json!(0)
    );
    assert_eq!(
        v["scanned_hashes"][&other]["classification"],
        json!("no-known-match")
    );
    assert_eq!(v["scanned_hashes"][&other]["match_type"], Value::Null);

    let (st, _, v) = s
        .send(
            s.http
                .post(format!("{}/v1/media/", s.base))
                .basic_auth(&key.id, Some(&key.secret))
                .header("content-type", "image/jpeg")
                .body(image("bridge-mods/aaa-orig.jpg")),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["classification"], json!("csam"));
    assert_eq!(v["match_type"], json!("near"));
    assert_eq!(v["sha1_base32"].as_str().unwrap().len(), 32);
    assert!(v["size_bytes"].as_u64().unwrap() > 1000);
    // the fetcher refuses loopback unless configured: a clear error with `detail`
    let r = s
        .send(
            s.http
                .post(format!("{}/v1/url/", s.base))
                .basic_auth(&key.id, Some(&key.secret))
                .json(&json!({"url": format!("{}/healthz", s.base)})),
        )
        .await;
    let p = assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p["detail"].as_str().unwrap().contains("blocked"), "{p}");
}

/// The served OpenAPI document against the live router: every documented operation is routed
/// (neither the fallback 404 nor 405), and one documented as needing a key or token refuses a
/// request without credentials. Together with the unit test in `openapi.rs` (every registered
/// API route is documented) the document and the router cannot drift apart.
#[tokio::test(flavor = "multi_thread")]
async fn every_documented_operation_is_routed_and_secured_as_documented() {
    let s = TestServer::start().await;
    let (st, _, doc) = s
        .send(s.http.get(format!("{}/api/openapi.json", s.base)))
        .await;
    assert_eq!(st, StatusCode::OK);
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        // Placeholder values for `{params}`: ids and references alike accept "1".
        let url: String = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "1" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for (method, op) in item.as_object().expect("path item") {
            let Ok(m) = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
                continue;
            };
            if !op.is_object() || method == "parameters" {
                continue;
            }
            let at = format!("{method} {path}");
            let (st, ct, body) = s.send(s.http.request(m, format!("{}{url}", s.base))).await;
            assert_ne!(st, StatusCode::METHOD_NOT_ALLOWED, "{at}: not routed");
            assert!(
                !(st == StatusCode::NOT_FOUND && body["detail"] == "no such endpoint"),
                "{at}: not routed"
            );
            let schemes: Vec<String> = op["security"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_object())
                .flat_map(|r| r.keys().cloned())
                .collect();
            if schemes.iter().any(|k| k == "bearer" || k == "basic") {
                assert_eq!(
                    st,
                    StatusCode::UNAUTHORIZED,
                    "{at}: open without credentials ({ct})"
                );
            } else {
                assert_ne!(st, StatusCode::UNAUTHORIZED, "{at}: documented as open");
            }
            checked += 1;
        }
    }
    assert!(checked > 80, "only {checked} operations documented");
}
