//! Order stages over the marketplace API (SYSTEM-SPEC 4): random stage
//! changes on a fresh order, compared with the transition table after every
//! step; a cancellation gives the stock back exactly once.
//!
//! Each case sets up its own world through the public API: a producer
//! (registered, approved by the admin), a product with the generated stock,
//! and a guest checkout of the generated quantity. Stage changes are sent
//! as the admin, who may move any order.

use proptest::prelude::*;
use proptest_state_machine::ReferenceStateMachine;
use serde_json::{json, Value};

use super::stateful::{check_sequence, Sut};
use super::{ensure, num, snippet, CaseResult, Env, Fail, Property};
use crate::PropertyInfo;

pub(crate) static PROPERTIES: &[Property] = &[Property {
    info: PropertyInfo {
        name: "order_stages_match_model",
        family: "order_stages",
        description: "random stage changes on a fresh order: after every step the status code, error code, stage and product stock equal the transition table's (cancelling restores stock once; a QC return needs a reason)",
        default_cases: 48,
    },
    run: |env, runner| check_sequence::<StageMachine, OrderSut>(env, runner, 1..12),
}];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    Placed,
    Preparing,
    Packing,
    Shipped,
    Delivered,
    Cancelled,
}

impl Stage {
    const ALL: [Stage; 6] = [
        Stage::Placed,
        Stage::Preparing,
        Stage::Packing,
        Stage::Shipped,
        Stage::Delivered,
        Stage::Cancelled,
    ];

    fn name(self) -> &'static str {
        match self {
            Stage::Placed => "PLACED",
            Stage::Preparing => "PREPARING",
            Stage::Packing => "PACKING",
            Stage::Shipped => "SHIPPED",
            Stage::Delivered => "DELIVERED",
            Stage::Cancelled => "CANCELLED",
        }
    }
}

/// What the table says of one requested change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// 200: moved, or already there (a no-op).
    Moved,
    /// 422: PACKING → PREPARING is a QC return and needs a reason.
    ReasonRequired,
    /// 409 ORD002.
    Invalid,
}

/// SYSTEM-SPEC 4: PLACED → PREPARING → PACKING → SHIPPED → DELIVERED,
/// PACKING → PREPARING with a reason, PLACED | PREPARING → CANCELLED; the
/// current stage again is a no-op.
fn verdict(from: Stage, to: Stage, reason: bool) -> Verdict {
    use Stage::*;
    if from == to {
        return Verdict::Moved;
    }
    match (from, to) {
        (Placed, Preparing) | (Preparing, Packing) | (Packing, Shipped) | (Shipped, Delivered) => {
            Verdict::Moved
        }
        (Packing, Preparing) if reason => Verdict::Moved,
        (Packing, Preparing) => Verdict::ReasonRequired,
        (Placed, Cancelled) | (Preparing, Cancelled) => Verdict::Moved,
        _ => Verdict::Invalid,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StageOp {
    to: Stage,
    /// Send a reason with the change.
    reason: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct OrderState {
    /// The product's stock before the checkout.
    initial_stock: i64,
    quantity: i64,
    stage: Stage,
    /// What the last change should have answered.
    last: Option<Verdict>,
}

impl OrderState {
    fn expected_stock(&self) -> i64 {
        if self.stage == Stage::Cancelled {
            self.initial_stock
        } else {
            self.initial_stock - self.quantity
        }
    }
}

pub(crate) struct StageMachine;

impl ReferenceStateMachine for StageMachine {
    type State = OrderState;
    type Transition = StageOp;

    fn init_state() -> BoxedStrategy<OrderState> {
        (1i64..=20)
            .prop_flat_map(|stock| (Just(stock), 1..=stock))
            .prop_map(|(initial_stock, quantity)| OrderState {
                initial_stock,
                quantity,
                stage: Stage::Placed,
                last: None,
            })
            .boxed()
    }

    fn transitions(state: &OrderState) -> BoxedStrategy<StageOp> {
        // Mostly the next step, so sequences get far down the table; often
        // the side exit of this stage (a cancellation, a QC return), where
        // the stock and reason rules live; any stage otherwise, to probe
        // the refusals.
        let (forward, side) = match state.stage {
            Stage::Placed => (Stage::Preparing, Stage::Cancelled),
            Stage::Preparing => (Stage::Packing, Stage::Cancelled),
            Stage::Packing => (Stage::Shipped, Stage::Preparing),
            Stage::Shipped => (Stage::Delivered, Stage::Cancelled),
            Stage::Delivered => (Stage::Delivered, Stage::Cancelled),
            Stage::Cancelled => (Stage::Cancelled, Stage::Placed),
        };
        prop_oneof![
            3 => (Just(forward), any::<bool>()),
            2 => (Just(side), any::<bool>()),
            2 => (proptest::sample::select(Stage::ALL.to_vec()), any::<bool>()),
        ]
        .prop_map(|(to, reason)| StageOp { to, reason })
        .boxed()
    }

    fn apply(mut state: OrderState, op: &StageOp) -> OrderState {
        let v = verdict(state.stage, op.to, op.reason);
        if v == Verdict::Moved {
            state.stage = op.to;
        }
        state.last = Some(v);
        state
    }
}

pub(crate) struct OrderSut {
    order: i64,
    product: i64,
}

impl OrderSut {
    fn stock(&self, env: &Env) -> Result<i64, Fail> {
        let body = env.expect(
            "GET",
            &format!("/api/v1/public/products/{}", self.product),
            None,
            200,
        )?;
        Ok(num(&body, "/data/stock", "product stock")? as i64)
    }
}

/// A registered, approved producer's bearer token.
fn approved_producer(env: &Env) -> Result<String, Fail> {
    let name = env.unique("props-producer");
    let password = format!("{name}-pw-Secret1");
    let body = json!({
        "name": "Props Producer",
        "email": format!("{name}@example.com"),
        "password": password,
        "password_confirmation": password,
        "role": "producer",
    });
    let registered = env.expect("POST", "/api/v1/auth/register", Some(&body), 201)?;
    let id = num(&registered, "/user/id", "registered user id")? as i64;
    let token = registered["token"].as_str().unwrap_or_default().to_string();
    env.expect(
        "PATCH",
        &format!("/api/v1/admin/producers/{id}/approve"),
        None,
        200,
    )?;
    Ok(token)
}

impl Sut<StageMachine> for OrderSut {
    fn init(env: &Env, state: &OrderState) -> Result<Self, Fail> {
        let token = approved_producer(env)?;
        let bearer = format!("Bearer {token}");
        let product_body = json!({
            "name": env.unique("props-product"),
            "description": "made by gauntlet props",
            "price": "2.50",
            "stock": state.initial_stock,
        });
        let created = env.call_with_headers(
            "POST",
            "/api/v1/products",
            Some(&product_body),
            &[("Authorization", &bearer)],
        )?;
        ensure!(
            created.status == 201,
            "creating a product answered {}: {}",
            created.status,
            snippet(&created.body)
        );
        let product = num(&created.body, "/data/id", "product id")? as i64;
        let key = env.unique("props-checkout");
        let order_body = json!({
            "items": [{"product_id": product, "quantity": state.quantity}],
            "shipping_method": "courier",
            "payment_method": "card",
            "shipping_address": "1 Property Lane, Testville",
        });
        let placed = env.call_with_headers(
            "POST",
            "/api/v1/public/orders",
            Some(&order_body),
            &[("Idempotency-Key", &key)],
        )?;
        ensure!(
            placed.status == 201,
            "checkout of {} of {} answered {}: {}",
            state.quantity,
            state.initial_stock,
            placed.status,
            snippet(&placed.body)
        );
        ensure!(
            placed.body.pointer("/data/stage") == Some(&Value::from("PLACED")),
            "a new order is PLACED, got {}",
            snippet(&placed.body)
        );
        let sut = OrderSut {
            order: num(&placed.body, "/data/id", "order id")? as i64,
            product,
        };
        let stock = sut.stock(env)?;
        ensure!(
            stock == state.initial_stock - state.quantity,
            "after checkout stock is {stock}, expected {}",
            state.initial_stock - state.quantity
        );
        Ok(sut)
    }

    fn step(&mut self, env: &Env, op: &StageOp, after: &OrderState) -> CaseResult {
        let mut body = json!({"stage": op.to.name()});
        if op.reason {
            body["reason"] = json!("QC found a damaged crate");
        }
        let reply = env.call(
            "POST",
            &format!("/api/v1/orders/{}/stage", self.order),
            Some(&body),
        )?;
        match after.last.expect("set by apply") {
            Verdict::Moved => {
                ensure!(
                    reply.status == 200,
                    "expected 200, got {}: {}",
                    reply.status,
                    snippet(&reply.body)
                );
                ensure!(
                    reply.body.pointer("/data/stage") == Some(&Value::from(after.stage.name())),
                    "expected stage {}, got {}",
                    after.stage.name(),
                    snippet(&reply.body)
                );
            }
            Verdict::ReasonRequired => ensure!(
                reply.status == 422,
                "a QC return without a reason must be 422, got {}: {}",
                reply.status,
                snippet(&reply.body)
            ),
            Verdict::Invalid => ensure!(
                reply.status == 409 && reply.error_code() == Some("ORD002"),
                "expected 409 ORD002 for {} → {}, got {}: {}",
                after.stage.name(),
                op.to.name(),
                reply.status,
                snippet(&reply.body)
            ),
        }
        let stock = self.stock(env)?;
        ensure!(
            stock == after.expected_stock(),
            "stock is {stock}, expected {} (stage {})",
            after.expected_stock(),
            after.stage.name()
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Stage::*;

    #[test]
    fn the_table() {
        assert_eq!(verdict(Placed, Preparing, false), Verdict::Moved);
        assert_eq!(verdict(Packing, Preparing, false), Verdict::ReasonRequired);
        assert_eq!(verdict(Packing, Preparing, true), Verdict::Moved);
        assert_eq!(verdict(Shipped, Cancelled, true), Verdict::Invalid);
        assert_eq!(verdict(Cancelled, Cancelled, false), Verdict::Moved);
        assert_eq!(verdict(Delivered, Shipped, false), Verdict::Invalid);
        assert_eq!(verdict(Placed, Shipped, false), Verdict::Invalid);
    }
}
