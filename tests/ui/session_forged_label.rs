// A hand-made arm cannot join a choice that `session_choice!` declared:
// `Label` needs the macro's (hidden) `ArmOf`, so the two ends cannot be
// made to disagree (the chooser continuing as the forged `Next` while the
// offerer decodes the label as a real arm). Found by the review of issue 14.
use corelane::session::{End, Label, Recv, Send};

corelane::session_choice! {
    /// Ask for an answer, or quit.
    pub mod q {
        /// The chooser then receives the answer.
        Ask(u64) => Recv<u64, End>,
        /// Done.
        Quit(u64) => End,
    }
}

pub struct Forged;
impl Label<q::Choice> for Forged {
    const INDEX: u8 = 0;
    type Msg = u64;
    type Next = Send<u64, End>;
}

fn main() {}
