//! Session-typed protocol channels: a protocol is a type, the two ends of a
//! channel can only follow dual protocols, and a step out of order does not
//! compile.
//!
//! A protocol is built from [`Send`], [`Recv`], [`Choose`], [`Offer`],
//! [`Rec`], [`Var`], [`Split`] and [`End`]. Its [`Dual`] (the peer's view) is
//! computed at compile time. A [`Chan<S, Tr>`](Chan) is an endpoint in state
//! `S` over a transport `Tr`: each step consumes the channel and returns its
//! continuation, so the state lives in the type and costs nothing at run
//! time (`size_of::<Chan<S, Tr>>() == size_of::<Tr>()`).
//!
//! - **Transports.** One session type runs over each of three: the
//!   [ring pair](ring) (two SPSC rings, one per direction: any protocol,
//!   [`Split`] included, and frames in a row are pipelined), the
//!   [shared line](mod@line) (one slot that both directions take turns on:
//!   a round trip moves one cache line each way; any protocol but
//!   `Split`), and TCP (`session::tcp`, a connection of the io_uring
//!   loop).
//! - **Messages.** A transport carries one *payload* type per protocol (an
//!   enum made with [`payload!`](crate::session_payload), or a single type
//!   such as `u64`); every message type maps into it through [`Message`].
//! - **Choice.** [`Choose<C>`] / [`Offer<C>`] over a choice made with
//!   [`choice!`](crate::session_choice): up to 256 arms, the arm's label
//!   travels in the same frame as the arm's first message (no extra frame).
//! - **Recursion.** [`Rec<S>`] marks a loop head, [`Var<N>`] jumps back to
//!   the `N`th enclosing one ([`Z`], [`Succ<Z>`], …: labelled loops).
//! - **Full duplex.** [`Split<Tx, Rx>`] splits an endpoint into a
//!   transmit-only and a receive-only half that run independently.
//! - **Errors are values.** A peer that breaks the protocol yields an
//!   [`Error`] (`Violation`, `Malformed`, `Timeout`, `Closed`, `Cancelled`,
//!   `Refused`), never a panic. A step that fails consumes the channel: the
//!   session is poisoned by construction. Dropping an endpoint before
//!   [`End`] sends an abort where the transport can (the peer's next step
//!   returns [`Error::Cancelled`]).
//! - **Delegation.** An endpoint is a value: over the in-process
//!   transports it can be sent like any other message (a payload variant
//!   holding a `Chan`). Over TCP it cannot: a `Chan` has no wire encoding,
//!   so it does not compile.
//!
//! What is claimed is what is implemented: linear use (each step consumes
//! the endpoint), duality, in-process delegation. Not more of the
//! π-calculus than that.
//!
//! # Examples
//!
//! ```
//! use corelane::session::{self, Chan, End, Offer, Rec, Recv, Send, Var, Z};
//!
//! corelane::session_choice! {
//!     /// What the client asks.
//!     pub mod req {
//!         /// Add one to a number; the server answers it.
//!         Incr(u64) => Recv<u64, Var<Z>>,
//!         /// Done.
//!         Stop(()) => End,
//!     }
//! }
//!
//! // The server's view; the client's is `session::Dual<Server>`.
//! type Server = Rec<Offer<req::Choice>>;
//!
//! let (server, client) = session::ring::pair::<Server, u64>(4);
//! let t = std::thread::spawn(move || -> Result<u64, session::Error> {
//!     let mut c = server.enter();
//!     let mut served = 0;
//!     loop {
//!         match c.offer_blocking()? {
//!             req::Branch::Incr(n, c2) => {
//!                 c = c2.send_blocking(n + 1)?.recurse();
//!                 served += 1;
//!             }
//!             req::Branch::Stop((), c2) => {
//!                 c2.close();
//!                 return Ok(served);
//!             }
//!         }
//!     }
//! });
//! let mut c = client.enter();
//! for i in 0..3 {
//!     let (r, c2) = c.choose_blocking(req::Incr, i)?.recv_blocking()?;
//!     assert_eq!(r, i + 1);
//!     c = c2.recurse();
//! }
//! c.choose_blocking(req::Stop, ())?.close();
//! assert_eq!(t.join().unwrap()?, 3);
//! # Ok::<(), session::Error>(())
//! ```

mod chan;
mod choice;
#[cfg(all(feature = "io", target_os = "linux", not(corelane_loom)))]
pub mod codec;
mod error;
mod fingerprint;
pub mod line;
mod message;
pub mod ring;
#[cfg(all(feature = "io", target_os = "linux", not(corelane_loom)))]
pub mod tcp;
mod timed;
mod transport;
mod types;

pub use chan::Chan;
pub use choice::{Choice, ChoiceFingerprint, ChoiceSendOnly, Label, Offerable};
pub use error::Error;
pub use fingerprint::{fnv1a, mix, Fingerprint, Named};
pub use message::{Message, Payload};
pub use timed::Timed;
pub use transport::{BlockingReceiver, BlockingSender, Endpoint, Receiver, Sender, SplitTransport};
pub use types::{
    Choose, Dual, End, Env, Offer, Rec, Recv, RecvOnly, Send, SendOnly, Session, Split, Succ, Var,
    Z,
};

/// The steps a [`Chan`] can take, one trait per kind of step, so that a
/// wrong step names the step that was expected.
pub mod step {
    pub use super::types::{
        ChooseStep, EndStep, OfferStep, RecStep, RecvStep, SendStep, SplitStep, VarStep,
    };
}

#[doc(hidden)]
pub mod __private {
    pub use super::chan::new_chan;
    pub use super::choice::{
        __FingerprintWith as FingerprintWith, __NamedWith as NamedWith,
        __SendOnlyWith as SendOnlyWith, __arm as arm, ArmOf,
    };
    pub use super::fingerprint::Nat;
}
