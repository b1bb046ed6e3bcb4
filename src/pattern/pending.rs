//! A frame on its way from `Socket::send` to a pipe: the caller's value is made into a
//! `Msg` where it will lie in the pipe, so a small body copied from a slice is copied into
//! the slot itself. Made anywhere else and then moved, the whole value is loaded back
//! right after the narrow stores that made it (the body's bytes, the flag byte), and each
//! such load stalls on store forwarding.

use super::Blocked;
use crate::msg::Msg;
use std::mem::MaybeUninit;

/// A frame on its way out: still the caller's value (made into a `Msg` only where it will
/// lie in a pipe), or made already (a pattern that looks at frames made it, and could not
/// send it yet).
pub(crate) enum Pending<T> {
    Source(T),
    Made(Msg),
}

/// Makes the frame held in `pending` (which holds one whenever a pattern is asked to send).
#[inline(always)]
pub(crate) fn make_pending<T: Into<Msg>>(pending: &mut Option<Pending<T>>, more: bool) -> Msg {
    let mut msg = match pending.take() {
        Some(Pending::Source(source)) => source.into(),
        Some(Pending::Made(msg)) => msg,
        None => taken_twice(),
    };
    set_more(&mut msg, more);
    msg
}

/// Makes the frame held in `pending` in `slot`, each kind of source written there directly
/// (a body copied from a slice is copied into the slot, not into a value moved there).
#[inline(always)]
pub(crate) fn place_pending<'s, T: Into<Msg>>(
    pending: &mut Option<Pending<T>>,
    slot: &'s mut MaybeUninit<Msg>,
    more: bool,
) -> &'s mut Msg {
    let msg = match pending.take() {
        Some(Pending::Source(source)) => slot.write(source.into()),
        Some(Pending::Made(msg)) => slot.write(msg),
        None => slot.write(taken_twice()),
    };
    set_more(msg, more);
    msg
}

/// Sends a made frame through a pattern's `send_from`, handing it back if it cannot go now:
/// how a socket type that makes frames in their slots also takes made ones.
#[inline(always)]
pub(crate) fn send_made<R>(
    msg: Msg,
    send_from: impl FnOnce(&mut Option<Pending<Msg>>, bool) -> Result<R, Blocked<()>>,
) -> Result<R, Blocked<Msg>> {
    let more = msg.more();
    let mut pending = Some(Pending::Made(msg));
    match send_from(&mut pending, more) {
        Ok(sent) => Ok(sent),
        Err(Blocked::Again(())) => Err(Blocked::Again(make_pending(&mut pending, more))),
        Err(Blocked::Fail(e)) => Err(Blocked::Fail(e)),
    }
}

/// Sets the flag only when it changes: a store of the flag byte alone, next to the wide ones
/// that just made the message, is what a later move stalls on.
#[inline(always)]
fn set_more(msg: &mut Msg, more: bool) {
    if msg.more() != more {
        msg.set_more(more);
    }
}

/// A frame is made once: the socket asks a pattern to send only while it holds one.
#[cold]
fn taken_twice() -> Msg {
    debug_assert!(false, "a pending frame was made twice");
    Msg::new()
}
