//! Stateful properties: proptest-state-machine's [`ReferenceStateMachine`]
//! generates and shrinks operation sequences from the model; a [`Sut`]
//! applies each to the target and compares after every step.
//!
//! proptest-state-machine's own `StateMachineTest` builds its system under
//! test from nothing (a static `init_test`), which leaves no way to hand it
//! the target; so the sequential loop is written here, the same way
//! `StateMachineTest::test_sequential` does it (including the "seen"
//! counter that lets the shrinker drop transitions never reached).

use std::fmt::Debug;
use std::ops::Range;
use std::sync::atomic::Ordering;

use proptest::test_runner::TestRunner;
use proptest_state_machine::ReferenceStateMachine;

use super::{check_with, CaseOutcome, CaseResult, Env, Fail};

/// The target side of a state machine.
pub(crate) trait Sut<M: ReferenceStateMachine>: Sized {
    /// Sets the target up for the initial reference state (a fresh account,
    /// a fresh work order).
    fn init(env: &Env, state: &M::State) -> Result<Self, Fail>;

    /// Applies `transition` to the target and compares it with `after`, the
    /// reference state after the transition.
    fn step(&mut self, env: &Env, transition: &M::Transition, after: &M::State) -> CaseResult;
}

/// Runs one generated sequence of `size` transitions against the target.
pub(crate) fn check_sequence<M, S>(
    env: &Env,
    runner: &mut TestRunner,
    size: Range<usize>,
) -> CaseOutcome
where
    M: ReferenceStateMachine,
    M::State: Debug,
    M::Transition: Debug,
    S: Sut<M>,
{
    check_with(
        env,
        runner,
        M::sequential_strategy(size),
        |(init, transitions, _)| {
            let mut out = format!("initial state: {init:#?}\ntransitions:");
            for (i, t) in transitions.iter().enumerate() {
                out.push_str(&format!("\n  {}. {t:?}", i + 1));
            }
            out
        },
        |env, (init, transitions, seen)| {
            let mut state = init.clone();
            let mut sut = S::init(env, &state)?;
            for (i, transition) in transitions.iter().enumerate() {
                if let Some(seen) = seen {
                    seen.fetch_add(1, Ordering::SeqCst);
                }
                state = M::apply(state, transition);
                sut.step(env, transition, &state).map_err(|e| match e {
                    Fail::Counterexample(m) => {
                        Fail::Counterexample(format!("step {} ({transition:?}): {m}", i + 1))
                    }
                    other => other,
                })?;
            }
            Ok(())
        },
    )
}
