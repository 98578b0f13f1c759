//! A storefront delivers an order by webhook, then delivers it again, and
//! a forger tries too.

use base64::Engine;

use crate::actions::shopify_signature;
use crate::{Failure, Journey, Outcome, Req};

pub const NAME: &str = "webhook";
pub const ABOUT: &str = "signed storefront order 201 created, redelivery 200 skipped, bad signature 401 with nothing stored";

const SKU: &str = "SKU-0007";

fn webhook(body: &str, signature: &str) -> Req {
    Req::post("/api/v1/webhooks/shopify")
        .header("x-shopify-hmac-sha256", signature)
        .raw(body.as_bytes().to_vec(), "application/json")
}

async fn reserved(j: &mut Journey) -> Result<i64, Failure> {
    let r = j.send(Req::get(format!("/api/v1/inventory?sku={SKU}"))).await?;
    r.expect_status(200)?;
    let (on_hand, reserved, buffer, ats) =
        (r.i64_at("/on_hand")?, r.i64_at("/reserved")?, r.i64_at("/buffer")?, r.i64_at("/ats")?);
    j.ensure(ats == (on_hand - reserved - buffer).max(0), || format!("ats {ats} is not max(0, on_hand - reserved - buffer)"))?;
    Ok(reserved)
}

pub async fn run(j: &mut Journey) -> Outcome {
    let secret = j.shopify_secret()?;
    let body = format!(r#"{{"id":"journey-{}","line_items":[{{"sku":"{SKU}","quantity":2}}]}}"#, j.unique());

    j.step("signed order is created");
    let before = reserved(j).await?;
    let r = j.send(webhook(&body, &shopify_signature(&secret, body.as_bytes()))).await?;
    r.expect_status(201)?;
    j.ensure(r.at("/status") == "created", || format!("status is {}", r.at("/status")))?;
    let order = r.i64_at("/order_id")?;
    let after = reserved(j).await?;
    j.ensure(after == before + 2, || format!("reserved went {before} -> {after} for 2 units"))?;

    j.step("the same delivery again is skipped");
    let r = j.send(webhook(&body, &shopify_signature(&secret, body.as_bytes()))).await?;
    r.expect_status(200)?;
    j.ensure(r.at("/status") == "skipped" && r.at("/order_id") == order, || {
        format!("redelivery was not deduplicated: {}", r.snippet())
    })?;
    let again = reserved(j).await?;
    j.ensure(again == after, || format!("redelivery reserved stock again: {after} -> {again}"))?;

    j.step("a bad signature is refused and stores nothing");
    let forged = format!(r#"{{"id":"forged-{}","line_items":[{{"sku":"{SKU}","quantity":1}}]}}"#, j.unique());
    let r = j.send(webhook(&forged, &shopify_signature("not-the-secret", forged.as_bytes()))).await?;
    j.ensure(r.status == 401, || format!("forged webhook accepted: a bad signature answered {} {}", r.status, r.snippet()))?;
    r.expect_error(401, "AUTH001")?;
    let r = j.send(webhook(&forged, "")).await?;
    r.expect_error(401, "AUTH001")?;

    // The right signature, bent: a comparison that trims, truncates,
    // ignores case or decodes leniently lets one of these through.
    j.step("malformed and replayed signatures are refused");
    let genuine = shopify_signature(&secret, forged.as_bytes());
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&genuine)
        .map_err(|e| Failure::new(format!("our own signature is not base64: {e}")))?;
    let swapped_case: String = genuine
        .chars()
        .map(|c| if c.is_ascii_lowercase() { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
        .collect();
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let bent: [(&str, String); 8] = [
        ("truncated to 16 bytes", b64(&raw[..16])),
        ("one byte short", b64(&raw[..raw.len() - 1])),
        ("over-long", b64(&[raw.as_slice(), &[0u8; 4]].concat())),
        ("unpadded", base64::engine::general_purpose::STANDARD_NO_PAD.encode(&raw)),
        ("hex instead of base64", hex::encode(&raw)),
        ("case swapped", swapped_case),
        ("replayed from another body", shopify_signature(&secret, body.as_bytes())),
        ("4 KiB of junk", "A".repeat(4096)),
    ];
    for (how, signature) in &bent {
        let r = j.send(webhook(&forged, signature)).await?;
        j.ensure(r.status == 401 && r.code() == "AUTH001", || {
            format!("a signature {how} was not refused with 401 AUTH001: answered {} {}", r.status, r.snippet())
        })?;
    }
    // Had the forgery been stored, the genuine delivery would be `skipped`.
    let r = j.send(webhook(&forged, &shopify_signature(&secret, forged.as_bytes()))).await?;
    j.ensure(r.status == 201 && r.at("/status") == "created", || {
        format!("forged webhook accepted: it was stored, the genuine delivery answered {} {}", r.status, r.snippet())
    })
}
