//! Order stages and the transition table (SYSTEM-SPEC section 4).
//!
//! ```text
//! PLACED → PREPARING → PACKING → SHIPPED → DELIVERED
//! PACKING → PREPARING            (QC return; a reason is required)
//! PLACED | PREPARING → CANCELLED (restores stock)
//! ```
//! Repeating the current stage is a no-op; anything else is refused.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    Placed,
    Preparing,
    Packing,
    Shipped,
    Delivered,
    Cancelled,
}

impl Stage {
    pub const ALL: [Stage; 6] = [
        Stage::Placed,
        Stage::Preparing,
        Stage::Packing,
        Stage::Shipped,
        Stage::Delivered,
        Stage::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
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

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stage {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Stage::ALL.iter().map(|s| s.as_str()).collect();
                format!("must be one of {}", names.join(", "))
            })
    }
}

/// What a requested stage change means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Already in that stage: answer 200, write nothing.
    NoOp,
    /// Allowed; `restores_stock` for a cancellation.
    Move { restores_stock: bool },
    /// Allowed only with a reason, and none was given.
    ReasonRequired,
    /// Not allowed from this stage (409 ORD002).
    Invalid,
}

/// The transition table. `has_reason`: a non-blank reason was given.
pub fn transition(from: Stage, to: Stage, has_reason: bool) -> Transition {
    use Stage::*;
    if from == to {
        return Transition::NoOp;
    }
    match (from, to) {
        (Placed, Preparing) | (Preparing, Packing) | (Packing, Shipped) | (Shipped, Delivered) => {
            Transition::Move {
                restores_stock: false,
            }
        }
        (Packing, Preparing) if has_reason => Transition::Move {
            restores_stock: false,
        },
        (Packing, Preparing) => Transition::ReasonRequired,
        (Placed, Cancelled) | (Preparing, Cancelled) => Transition::Move {
            restores_stock: true,
        },
        _ => Transition::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Stage::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_valid_ones() {
        for stage in Stage::ALL {
            assert_eq!(stage.as_str().parse::<Stage>(), Ok(stage));
        }
        let err = "shipped".parse::<Stage>().unwrap_err();
        assert!(
            err.contains("SHIPPED") && err.contains("CANCELLED"),
            "{err}"
        );
    }

    #[test]
    fn the_whole_table() {
        let mv = Transition::Move {
            restores_stock: false,
        };
        let cancel = Transition::Move {
            restores_stock: true,
        };
        let allowed = [
            (Placed, Preparing, mv),
            (Preparing, Packing, mv),
            (Packing, Shipped, mv),
            (Shipped, Delivered, mv),
            (Packing, Preparing, Transition::ReasonRequired),
            (Placed, Cancelled, cancel),
            (Preparing, Cancelled, cancel),
        ];
        for from in Stage::ALL {
            for to in Stage::ALL {
                let expected = if from == to {
                    Transition::NoOp
                } else {
                    allowed
                        .iter()
                        .find(|(f, t, _)| *f == from && *t == to)
                        .map_or(Transition::Invalid, |(_, _, tr)| *tr)
                };
                assert_eq!(transition(from, to, false), expected, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn qc_return_needs_a_reason_and_terminal_stages_stay_put() {
        assert_eq!(
            transition(Packing, Preparing, true),
            Transition::Move {
                restores_stock: false
            }
        );
        assert_eq!(transition(Shipped, Cancelled, true), Transition::Invalid);
        assert_eq!(transition(Delivered, Shipped, true), Transition::Invalid);
        assert_eq!(transition(Cancelled, Placed, true), Transition::Invalid);
        assert_eq!(transition(Cancelled, Cancelled, false), Transition::NoOp);
        assert_eq!(transition(Placed, Packing, true), Transition::Invalid);
    }
}
