//! Work orders: lifecycle, readiness, contract snapshots, export.

use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::support::Sut;
use super::{expect, ok};

fn wo_path(id: i64, tail: &str) -> String {
    format!("/v1/repogen/work-orders/{id}{tail}")
}

async fn new_work_order(sut: &Sut, report_type: &str, fields: Value) -> Value {
    let body = json!({"report_type": report_type, "fields": fields});
    let r = sut
        .admin(Method::POST, "/v1/repogen/work-orders", Some(body))
        .await;
    ok(&r, 201, "create work order")
}

pub async fn work_orders(sut: &Sut) {
    let wo = new_work_order(sut, "VALUATION", json!({})).await;
    let id = wo["id"].as_i64().unwrap();
    assert_eq!(wo["status"], "DRAFT", "{wo}");
    assert_eq!(wo["snapshot_version"], Value::Null, "{wo}");
    assert_eq!(
        wo["readiness"],
        json!({"missing_fields": ["bank", "address", "land_area", "rate"],
               "missing_evidence": [{"kinds": ["PHOTO", "GEO", "SCREENSHOT"], "required": 6, "have": 0}],
               "completeness_score": 0}),
        "{wo}"
    );
    for key in [
        "fields",
        "evidence",
        "created_at",
        "updated_at",
        "report_type",
    ] {
        assert!(wo.get(key).is_some(), "{key} in {wo}");
    }
    let got = ok(
        &sut.admin(Method::GET, &wo_path(id, ""), None).await,
        200,
        "get",
    );
    assert_eq!(got["id"], id);
    for path in [wo_path(i64::MAX, ""), "/v1/repogen/work-orders/abc".into()] {
        expect(
            &sut.admin(Method::GET, &path, None).await,
            404,
            "REPO003",
            &path,
        );
    }

    let status = async |s: &str| {
        sut.admin(
            Method::POST,
            &wo_path(id, "/status"),
            Some(json!({"status": s})),
        )
        .await
    };
    expect(
        &status("READY_FOR_RENDER").await,
        409,
        "REPO002",
        "DRAFT → READY",
    );
    ok(&status("DATA_PENDING").await, 200, "DRAFT → DATA_PENDING");
    ok(&status("DATA_PENDING").await, 200, "same status is a no-op");
    let blocked = status("READY_FOR_RENDER").await;
    expect(&blocked, 409, "REPO001", "not ready");
    let message = blocked.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("bank") && message.contains("land_area"),
        "{message}"
    );
    expect(
        &status("LOST").await,
        422,
        "VALIDATION_FAILED",
        "unknown status",
    );

    let patch = async |fields: Value| {
        sut.admin(
            Method::PATCH,
            &wo_path(id, "/contract"),
            Some(json!({ "fields": fields })),
        )
        .await
    };
    let patched = ok(
        &patch(
            json!({"bank_name": "SBI", "property_address": "1 Mill Road",
                      "land_area": 1200, "market_rate": 4000, "scratch": "x"}),
        )
        .await,
        200,
        "patch",
    );
    assert_eq!(patched["snapshot_version"], 1, "{patched}");
    assert_eq!(
        patched["readiness"]["missing_fields"],
        json!([]),
        "{patched}"
    );
    let patched = ok(&patch(json!({"scratch": null})).await, 200, "null deletes");
    assert_eq!(patched["snapshot_version"], 2, "{patched}");
    assert!(patched["fields"].get("scratch").is_none(), "{patched}");
    assert_eq!(patched["fields"]["land_area"], 1200, "{patched}");

    let evidence = async |kind: &str| {
        sut.admin(
            Method::POST,
            &wo_path(id, "/evidence"),
            Some(json!({"kind": kind, "caption": "front"})),
        )
        .await
    };
    expect(&evidence("VIDEO").await, 422, "VALIDATION_FAILED", "kind");
    let mut last = Value::Null;
    for kind in ["PHOTO", "PHOTO", "GEO", "SCREENSHOT", "PHOTO", "GEO"] {
        last = ok(&evidence(kind).await, 201, "evidence");
    }
    assert_eq!(last["evidence"].as_array().unwrap().len(), 6, "{last}");
    assert_eq!(last["readiness"]["completeness_score"], 100, "{last}");
    assert_eq!(last["readiness"]["missing_evidence"], json!([]), "{last}");

    let ready = ok(&status("READY_FOR_RENDER").await, 200, "ready");
    assert_eq!(ready["status"], "READY_FOR_RENDER");
    ok(&status("CLOSED").await, 200, "close");
    expect(&status("DRAFT").await, 409, "REPO002", "CLOSED is terminal");
    expect(
        &patch(json!({"bank_name": "x"})).await,
        409,
        "REPO002",
        "patch when CLOSED",
    );
    expect(
        &sut.admin(
            Method::POST,
            "/v1/repogen/work-orders",
            Some(json!({"report_type": "POEM"})),
        )
        .await,
        422,
        "VALIDATION_FAILED",
        "report type",
    );
}

/// Two work orders built the same way export the same bytes, and the
/// digest covers everything else.
pub async fn export_is_deterministic(sut: &Sut) {
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let wo = new_work_order(sut, "DPR", json!({"bank_name": "Co-op Bank"})).await;
        let id = wo["id"].as_i64().unwrap();
        let fields =
            json!({"fields": {"project_summary": "mill", "project_cost": "12.5", "b": [1, 2.5]}});
        ok(
            &sut.admin(Method::PATCH, &wo_path(id, "/contract"), Some(fields))
                .await,
            200,
            "patch",
        );
        for kind in ["SCREENSHOT", "PHOTO"] {
            let body = json!({"kind": kind});
            ok(
                &sut.admin(Method::POST, &wo_path(id, "/evidence"), Some(body))
                    .await,
                201,
                "evidence",
            );
        }
        let resp = sut
            .http
            .get(format!("{}{}", sut.api, wo_path(id, "/export")))
            .header("x-admin-token", &sut.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        bodies.push(resp.text().await.unwrap());
    }
    assert_eq!(
        bodies[0], bodies[1],
        "exports of identical work orders differ"
    );
    let mut bundle: Value = serde_json::from_str(&bodies[0]).unwrap();
    let keys: Vec<&String> = bundle.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "bundle_sha256",
            "evidence_kinds",
            "fields",
            "readiness",
            "report_type",
            "snapshot",
            "status"
        ]
    );
    assert_eq!(bundle["evidence_kinds"], json!(["PHOTO", "SCREENSHOT"]));
    assert_eq!(bundle["snapshot"]["version"], 1);
    // The valuation of the fields that are valuation inputs (here none
    // with values, so every amount is null and the slab is UNKNOWN).
    assert_eq!(
        bundle["snapshot"]["output"]["valuation"]["value_slab"],
        "UNKNOWN"
    );
    let digest = bundle
        .as_object_mut()
        .unwrap()
        .remove("bundle_sha256")
        .unwrap();
    let rest = gauntlet_system::market::idempotency::canonical_json(&bundle);
    assert_eq!(
        digest.as_str().unwrap(),
        hex::encode(Sha256::digest(rest.as_bytes()))
    );
    assert!(!bodies[0].contains("created_at") && !bodies[0].contains("\"id\""));
}
