//! Paging metadata against what a walk over every page returns: totals,
//! last page and page contents must agree, for several page sizes, and
//! the page-size limits hold at N - 1, N and N + 1.

use std::collections::BTreeSet;

use crate::actions;
use crate::{Journey, Outcome, Req};

pub const NAME: &str = "paging";
pub const ABOUT: &str = "7 products walked page by page at per_page 1, 2, 3, 6, 7, 8 and the default: total, last_page, per_page and contents agree with the walk; per_page 100 ok, 0 and 101 refused";

/// Products made for this journey (a prime, so most page sizes leave a
/// partial last page).
const MADE: usize = 7;

pub async fn run(j: &mut Journey) -> Outcome {
    j.step("set up products with a shared, unique name");
    let producer = actions::approved_producer(j).await?;
    let tag = format!("pg{}", j.unique().to_lowercase());
    let mut made = BTreeSet::new();
    for n in 0..MADE {
        made.insert(actions::create_product(j, &producer, &format!("Pear {tag} {n}"), 5).await?);
    }

    for per_page in [Some(1usize), Some(2), Some(3), Some(6), Some(7), Some(8), None] {
        let size = per_page.unwrap_or(15);
        j.step(&format!("walk every page at per_page {}", per_page.map_or("default".into(), |p| p.to_string())));
        let expected_last = MADE.div_ceil(size);
        let mut seen = Vec::new();
        let mut page = 1;
        loop {
            let query = match per_page {
                Some(p) => format!("search={tag}&page={page}&per_page={p}"),
                None => format!("search={tag}&page={page}"),
            };
            let r = j.send(Req::get(format!("/api/v1/public/products?{query}"))).await?;
            r.expect_status(200)?;
            let data = r.at("/data").as_array().cloned().unwrap_or_default();
            let (total, last, echoed, current) = (
                r.i64_at("/total")?,
                r.i64_at("/last_page")?,
                r.i64_at("/per_page")?,
                r.i64_at("/current_page")?,
            );
            j.ensure(total == MADE as i64, || format!("{query}: total is {total}, the walk made {MADE}"))?;
            j.ensure(last == expected_last as i64, || {
                format!("{query}: last_page is {last}, but {MADE} items at {size} a page need {expected_last} pages")
            })?;
            j.ensure(echoed == size as i64 && current == page as i64, || {
                format!("{query}: per_page {echoed} and current_page {current}, expected {size} and {page}")
            })?;
            let want = if page < expected_last { size } else if page == expected_last { MADE - size * (expected_last - 1) } else { 0 };
            j.ensure(data.len() == want, || format!("{query}: {} items on the page, expected {want}", data.len()))?;
            seen.extend(data.iter().filter_map(|p| p["id"].as_i64()));
            if page > expected_last {
                break;
            }
            page += 1;
        }
        let unique: BTreeSet<i64> = seen.iter().copied().collect();
        j.ensure(unique.len() == seen.len(), || format!("per_page {size}: the walk returned an item twice: {seen:?}"))?;
        j.ensure(unique == made, || format!("per_page {size}: the walk returned {unique:?}, the products made are {made:?}"))?;
    }

    j.step("page sizes at the limit: 100 ok, 0 and 101 refused");
    let r = j.send(Req::get(format!("/api/v1/public/products?search={tag}&per_page=100"))).await?;
    r.expect_status(200)?;
    j.ensure(r.at("/per_page") == 100, || format!("per_page=100 answered per_page {}", r.at("/per_page")))?;
    for bad in ["0", "101"] {
        let r = j.send(Req::get(format!("/api/v1/public/products?search={tag}&per_page={bad}"))).await?;
        j.ensure(r.status == 422, || format!("per_page={bad} answered {} (the spec allows 1 to 100): {}", r.status, r.snippet()))?;
    }
    Ok(())
}
