//! Deliberate rule mistakes (issue 6 contract, section A). A property test
//! that still passes with a mistake switched on does not test that rule;
//! the harness turns these on in-process to show its properties bite. The
//! reference system never enables them (they are not `SYSTEM_DEFECTS`).

/// Which deliberate mistakes are on. `Mistakes::NONE` is the specified
/// behaviour.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mistakes {
    /// `round2` rounds ties to even instead of away from zero.
    pub round_half_even: bool,
    /// `rounded_to_next_500` rounds up to the next 100 instead.
    pub ceil_to_100: bool,
    /// Exactly 50,000,000 lands in `LT_5CR` (`>` instead of `>=`).
    pub slab_strict_gt: bool,
    /// A ledger release does not give the reserved amount back.
    pub release_keeps_reserved: bool,
    /// The completeness score truncates instead of rounding.
    pub completeness_floor: bool,
    /// `READY_FOR_RENDER` is allowed with missing fields or evidence.
    pub transition_skips_readiness: bool,
    /// A market/guideline ratio of exactly 0.1 or 10 is flagged
    /// `RATE_MISMATCH_SUSPICIOUS` (the spec's bounds are inclusive).
    pub ratio_bound_inclusive: bool,
    /// Evidence counts only with one piece more than required (`>`).
    pub evidence_needs_one_more: bool,
    /// A reservation of exactly the available credits is refused (`>`).
    pub reserve_refuses_exact_available: bool,
}

/// The names `parse` accepts, in declaration order.
const NAMES: [&str; 9] = [
    "round_half_even",
    "ceil_to_100",
    "slab_strict_gt",
    "release_keeps_reserved",
    "completeness_floor",
    "transition_skips_readiness",
    "ratio_bound_inclusive",
    "evidence_needs_one_more",
    "reserve_refuses_exact_available",
];

impl Mistakes {
    /// No mistakes: the rules as specified.
    pub const NONE: Mistakes = Mistakes {
        round_half_even: false,
        ceil_to_100: false,
        slab_strict_gt: false,
        release_keeps_reserved: false,
        completeness_floor: false,
        transition_skips_readiness: false,
        ratio_bound_inclusive: false,
        evidence_needs_one_more: false,
        reserve_refuses_exact_available: false,
    };

    /// Every mistake's name, as `parse` accepts it.
    pub fn names() -> &'static [&'static str] {
        &NAMES
    }

    /// Parses a comma-separated list of names (`"round_half_even,ceil_to_100"`).
    /// Blanks around names and empty entries are ignored, so `""` is
    /// [`Mistakes::NONE`]. An unknown name is an error that lists the known
    /// ones, so a typo in a test or on a command line is not silently a
    /// no-op.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut mistakes = Mistakes::NONE;
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match mistakes.flag_mut(name) {
                Some(flag) => *flag = true,
                None => {
                    return Err(format!(
                        "unknown mistake `{name}` in `{list}`; known mistakes: {}",
                        NAMES.join(", ")
                    ))
                }
            }
        }
        Ok(mistakes)
    }

    /// The names of the mistakes that are on, in declaration order; `parse`
    /// of their comma-joined list gives `self` back.
    pub fn enabled(&self) -> Vec<&'static str> {
        let mut copy = *self;
        NAMES
            .iter()
            .copied()
            .filter(|name| copy.flag_mut(name).is_some_and(|flag| *flag))
            .collect()
    }

    fn flag_mut(&mut self, name: &str) -> Option<&mut bool> {
        Some(match name {
            "round_half_even" => &mut self.round_half_even,
            "ceil_to_100" => &mut self.ceil_to_100,
            "slab_strict_gt" => &mut self.slab_strict_gt,
            "release_keeps_reserved" => &mut self.release_keeps_reserved,
            "completeness_floor" => &mut self.completeness_floor,
            "transition_skips_readiness" => &mut self.transition_skips_readiness,
            "ratio_bound_inclusive" => &mut self.ratio_bound_inclusive,
            "evidence_needs_one_more" => &mut self.evidence_needs_one_more,
            "reserve_refuses_exact_available" => &mut self.reserve_refuses_exact_available,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_ignores_blanks() {
        assert_eq!(Mistakes::parse(""), Ok(Mistakes::NONE));
        assert_eq!(Mistakes::parse(" , "), Ok(Mistakes::NONE));
        let m = Mistakes::parse("round_half_even, ceil_to_100").unwrap();
        assert!(m.round_half_even && m.ceil_to_100);
        assert_eq!(
            Mistakes {
                round_half_even: false,
                ceil_to_100: false,
                ..m
            },
            Mistakes::NONE
        );
    }

    #[test]
    fn every_name_round_trips() {
        for name in Mistakes::names() {
            let m = Mistakes::parse(name).unwrap();
            assert_ne!(m, Mistakes::NONE, "{name}");
            assert_eq!(m.enabled(), vec![*name]);
        }
        let all = Mistakes::parse(&Mistakes::names().join(",")).unwrap();
        assert_eq!(all.enabled(), Mistakes::names());
    }

    #[test]
    fn unknown_names_are_errors_that_list_the_known_ones() {
        let err = Mistakes::parse("round_half_even,round_half_odd").unwrap_err();
        assert!(err.contains("`round_half_odd`"), "{err}");
        assert!(err.contains("transition_skips_readiness"), "{err}");
    }
}
