//! A sell-out: more buyers than units, all at once.

use crate::actions::{self, checkout};
use crate::{Journey, Outcome};

pub const NAME: &str = "last_units";
pub const ABOUT: &str = "12 concurrent checkouts for the last 4 units: exactly 4 orders, the rest 409 INV001, stock 0";

const BUYERS: usize = 12;
const UNITS: i64 = 4;

pub async fn run(j: &mut Journey) -> Outcome {
    j.step("set up the last units and the buyers");
    let producer = actions::approved_producer(j).await?;
    let product = actions::create_product(j, &producer, &format!("Truffle {}", j.unique()), UNITS).await?;
    let mut buyers = Vec::new();
    for _ in 0..BUYERS {
        buyers.push(actions::register(j, "consumer").await?);
    }

    j.step("everyone checks out at once");
    let unique = j.unique().to_string();
    let reqs = buyers.iter().enumerate().map(|(i, b)| checkout(b, &format!("last-{unique}-{i}"), &[(product, 1)])).collect();
    let replies = j.send_all(reqs).await?;
    let sold = replies.iter().filter(|r| r.status == 201).count() as i64;
    let refused = replies.iter().filter(|r| r.status == 409 && r.code() == "INV001").count();
    let other: Vec<String> = replies.iter().filter(|r| r.status != 201 && r.status != 409).map(|r| format!("{} {}", r.status, r.snippet())).collect();
    j.ensure(other.is_empty(), || format!("unexpected answers: {other:?}"))?;

    j.step("exactly the remaining units were sold");
    let stock = actions::stock_of(j, product).await?;
    j.ensure(sold == UNITS && stock == 0 && refused == BUYERS - UNITS as usize, || {
        format!("oversold: {BUYERS} buyers for {UNITS} units got {sold} orders ({refused} refused with INV001), stock now {stock}")
    })
}
