//! Credit ledger (SYSTEM-SPEC 8.3, contract B billing): balances,
//! reservations, idempotency keys, ledger entries, and the status code and
//! error code each operation must get.

use std::collections::BTreeSet;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ResStatus {
    Active,
    Consumed,
    Released,
}

impl ResStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ResStatus::Active => "ACTIVE",
            ResStatus::Consumed => "CONSUMED",
            ResStatus::Released => "RELEASED",
        }
    }
}

/// Ledger entry kinds (JSON lower case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    Reserve,
    Consume,
    Release,
    Grant,
    Topup,
    Adjustment,
    Override,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Reserve => "reserve",
            EntryKind::Consume => "consume",
            EntryKind::Release => "release",
            EntryKind::Grant => "grant",
            EntryKind::Topup => "topup",
            EntryKind::Adjustment => "adjustment",
            EntryKind::Override => "override",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub key: String,
    pub ref_id: String,
    pub amount: i64,
    pub status: ResStatus,
}

/// How a consume or release names its reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The reservation made with this idempotency key (the caller sends its id).
    Key(String),
    /// `{ref_type, ref_id}`: the latest reservation with this ref.
    Ref(String),
}

/// What the API must answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    pub status: u16,
    pub code: Option<&'static str>,
    /// Status of the reservation in a 2xx body of reserve/consume/release.
    pub reservation: Option<ResStatus>,
    /// Entries this operation appends to the ledger.
    pub appended: Vec<EntryKind>,
}

impl Expect {
    fn ok(status: u16, reservation: Option<ResStatus>, appended: Vec<EntryKind>) -> Self {
        Expect {
            status,
            code: None,
            reservation,
            appended,
        }
    }

    fn err(status: u16, code: Option<&'static str>) -> Self {
        Expect {
            status,
            code,
            reservation: None,
            appended: Vec::new(),
        }
    }
}

/// One account of CREDIT mode, active.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    pub wallet: i64,
    pub reserved: i64,
    /// In creation order.
    pub reservations: Vec<Reservation>,
    pub grant_keys: BTreeSet<String>,
    pub entries: Vec<EntryKind>,
}

impl Account {
    pub fn available(&self) -> i64 {
        self.wallet - self.reserved
    }

    fn find(&self, target: &Target) -> Option<usize> {
        match target {
            Target::Key(k) => self.reservations.iter().position(|r| &r.key == k),
            Target::Ref(r) => self.reservations.iter().rposition(|x| &x.ref_id == r),
        }
    }

    /// Whether a reservation with this key exists.
    pub fn has_key(&self, key: &str) -> bool {
        self.reservations.iter().any(|r| r.key == key)
    }

    pub fn reserve(
        &mut self,
        key: &str,
        ref_id: &str,
        amount: i64,
        operator_override: bool,
    ) -> Expect {
        if amount <= 0 {
            return Expect::err(422, None);
        }
        if let Some(r) = self.reservations.iter().find(|r| r.key == key) {
            return Expect::ok(200, Some(r.status), Vec::new());
        }
        let mut appended = Vec::new();
        let available = self.available();
        if available < amount {
            if !operator_override {
                return Expect::err(409, Some("CRED001"));
            }
            self.wallet += amount - available;
            appended.push(EntryKind::Override);
        }
        self.reserved += amount;
        appended.push(EntryKind::Reserve);
        self.reservations.push(Reservation {
            key: key.to_owned(),
            ref_id: ref_id.to_owned(),
            amount,
            status: ResStatus::Active,
        });
        self.entries.extend(&appended);
        Expect::ok(201, Some(ResStatus::Active), appended)
    }

    pub fn consume(&mut self, target: &Target) -> Expect {
        let Some(i) = self.find(target) else {
            return Expect::err(404, Some("CRED006"));
        };
        let r = &mut self.reservations[i];
        match r.status {
            ResStatus::Active => {
                r.status = ResStatus::Consumed;
                self.wallet -= r.amount;
                self.reserved -= r.amount;
                self.entries.push(EntryKind::Consume);
                Expect::ok(200, Some(ResStatus::Consumed), vec![EntryKind::Consume])
            }
            ResStatus::Consumed => Expect::ok(200, Some(ResStatus::Consumed), Vec::new()),
            ResStatus::Released => Expect::err(409, Some("CRED003")),
        }
    }

    pub fn release(&mut self, target: &Target) -> Expect {
        let Some(i) = self.find(target) else {
            return Expect::err(404, Some("CRED006"));
        };
        let r = &mut self.reservations[i];
        match r.status {
            ResStatus::Active => {
                r.status = ResStatus::Released;
                self.reserved -= r.amount;
                self.entries.push(EntryKind::Release);
                Expect::ok(200, Some(ResStatus::Released), vec![EntryKind::Release])
            }
            ResStatus::Released => Expect::ok(200, Some(ResStatus::Released), Vec::new()),
            ResStatus::Consumed => Expect::err(409, Some("CRED002")),
        }
    }

    pub fn grant(&mut self, key: &str, amount: i64, reason: EntryKind) -> Expect {
        if amount <= 0 {
            return Expect::err(422, None);
        }
        if !self.grant_keys.insert(key.to_owned()) {
            return Expect::ok(200, None, Vec::new());
        }
        self.wallet += amount;
        self.entries.push(reason);
        Expect::ok(201, None, vec![reason])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_walkthrough() {
        let mut a = Account::default();
        assert_eq!(a.reserve("k1", "r", 3, false).code, Some("CRED001"));
        assert_eq!(a.grant("g", 5, EntryKind::Grant).status, 201);
        assert_eq!(a.grant("g", 50, EntryKind::Topup).status, 200);
        assert_eq!(a.wallet, 5);
        assert_eq!(a.reserve("k1", "r", 3, false).status, 201);
        assert_eq!(a.reserve("k1", "r", 30, false).status, 200);
        assert_eq!((a.wallet, a.reserved), (5, 3));
        let e = a.reserve("k2", "r", 4, true);
        assert_eq!(e.appended, [EntryKind::Override, EntryKind::Reserve]);
        assert_eq!((a.wallet, a.reserved, a.available()), (7, 7, 0));
        // The ref names the latest reservation (k2).
        assert_eq!(a.release(&Target::Ref("r".into())).status, 200);
        assert_eq!(a.consume(&Target::Key("k2".into())).code, Some("CRED003"));
        assert_eq!(a.consume(&Target::Key("k1".into())).status, 200);
        assert_eq!(a.release(&Target::Key("k1".into())).code, Some("CRED002"));
        assert_eq!(a.consume(&Target::Ref("nope".into())).code, Some("CRED006"));
        assert_eq!((a.wallet, a.reserved), (4, 0));
        assert_eq!(a.entries.len(), 6);
    }
}
