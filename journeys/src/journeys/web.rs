//! The server-rendered front end.

use crate::actions;
use crate::{Journey, Outcome, Req, Service};

pub const NAME: &str = "web";
pub const ABOUT: &str = "/products shows product names, /login and /register redirect (307), auth pages 200";

pub async fn run(j: &mut Journey) -> Outcome {
    if !j.has(Service::Web) {
        j.step("web target");
        return Err(crate::Failure::new("no web URL for this target (--web)"));
    }
    j.step("/products shows product names");
    let r = j.send(Req::get("/api/v1/public/products")).await?;
    r.expect_status(200)?;
    let name = r.str_at("/data/0/name")?;
    let id = r.i64_at("/data/0/id")?;
    let page = j.send(Req::get("/products").to(Service::Web)).await?;
    page.expect_status(200)?;
    j.ensure(page.text.contains(&actions::html_escape(&name)), || format!("/products does not show `{name}`"))?;
    let page = j.send(Req::get("/").to(Service::Web)).await?;
    page.expect_status(200)?;

    j.step("/products/{id} renders the product");
    let page = j.send(Req::get(format!("/products/{id}")).to(Service::Web)).await?;
    page.expect_status(200)?;
    j.ensure(page.text.contains(&actions::html_escape(&name)), || format!("/products/{id} does not show `{name}`"))?;

    for (from, to) in [("/login", "/auth/login"), ("/register", "/auth/register")] {
        j.step(&format!("{from} redirects to {to}"));
        let r = j.send(Req::get(from).to(Service::Web)).await?;
        r.expect_status(307)?;
        j.ensure(r.header("location") == Some(to), || format!("{from} redirects to {:?}, expected {to}", r.header("location")))?;
        let r = j.send(Req::get(to).to(Service::Web)).await?;
        r.expect_status(200)?;
    }
    Ok(())
}
