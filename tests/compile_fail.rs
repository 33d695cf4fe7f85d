//! Type-level guarantees, checked by trybuild: the single sides of the rings
//! are not `Clone`, and a ring of a `!Send` item type cannot cross threads.
//!
//! The expected compiler output lives next to each case (`tests/ui/*.stderr`);
//! regenerate it with `TRYBUILD=overwrite cargo test --test compile_fail`
//! after a toolchain upgrade, and review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    // The control: the same shapes compile with a `Send` item and the
    // cloneable sides.
    t.pass("tests/ui/pass/*.rs");
}
