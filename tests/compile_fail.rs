//! Type-level guarantees, checked by trybuild: the single sides of the rings
//! are not `Clone`; no handle of a ring of a `!Send` item type crosses
//! threads; a handle that gives out `&T` from `&self` to other threads
//! (an SPSC `ReadChunk` shared by reference, or its `slices()`; every
//! multicast subscriber) needs `T: Sync`; and multicast node ids are typed
//! per kind (a group's id takes no cursor, a lossy cursor's id is no
//! dependency); a session endpoint takes only the step its protocol is at
//! (no receive at a send, no close before `End`, no arm of another choice,
//! every offered arm handled, no step on a consumed endpoint, no `Var`
//! past the outermost loop), the two ends of a pair are dual, and a
//! `Split`'s halves only send or only receive. Each case's first comment
//! says which bound it pins.
//!
//! The expected compiler output lives next to each case (`tests/ui/*.stderr`);
//! regenerate it with `TRYBUILD=overwrite cargo test --test compile_fail`
//! after a toolchain upgrade, and review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    // The controls: the same shapes compile with a `Send` (and, where `&T`
    // is shared, `Sync`) item, the cloneable sides clone, and the SPSC
    // handles that give out no `&T` stay `Send + Sync` for any `T: Send`;
    // the session protocols of the failing cases, followed step by step.
    t.pass("tests/ui/pass/*.rs");
}
