//! The messages: sequence-numbered frames, made by the sender and classified by the receiver.

use zerosock::Msg;

/// The frames of message `seq`.
pub(crate) fn frames(seq: u64, parts: usize, size: usize) -> Vec<String> {
    (0..parts)
        .map(|i| {
            let mut f = format!("{seq} {i}/{parts}");
            if size > 0 {
                f.push(';');
                f.extend(std::iter::repeat('x').take(size));
            }
            f
        })
        .collect()
}

/// One frame's `(seq, index, parts)`, if it has the form `frames` gives it.
fn parse_frame(frame: &[u8]) -> Option<(u64, usize, usize)> {
    let text = std::str::from_utf8(frame).ok()?;
    let head = text.split(';').next()?;
    let (seq, pos) = head.split_once(' ')?;
    let (index, parts) = pos.split_once('/')?;
    Some((seq.parse().ok()?, index.parse().ok()?, parts.parse().ok()?))
}

/// What a received message is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Received {
    /// Whole: every frame present, each carrying the same number.
    Whole(u64),
    /// Well-formed frames that do not make one message (mixed numbers, missing or extra
    /// frames, frames out of place).
    Torn(String),
    /// A frame that is not of our format.
    Malformed(String),
}

/// What `msg` is, for a message of `parts` frames.
pub(crate) fn classify(msg: &[Msg], parts: usize) -> Received {
    let mut seqs = Vec::with_capacity(msg.len());
    for (pos, frame) in msg.iter().enumerate() {
        let Some((seq, index, of)) = parse_frame(frame) else {
            return Received::Malformed(format!("frame {pos} is {:?}", frame.to_vec()));
        };
        if of != parts {
            return Received::Malformed(format!("frame {pos} says {of} parts, not {parts}"));
        }
        if index != pos {
            return Received::Torn(format!("frame {pos} is part {index} of {seq}"));
        }
        seqs.push(seq);
    }
    let first = seqs[0];
    if seqs.iter().any(|&s| s != first) {
        return Received::Torn(format!("frames of {seqs:?}"));
    }
    if msg.len() != parts {
        return Received::Torn(format!("{} frames of {first}, not {parts}", msg.len()));
    }
    Received::Whole(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(frames: &[&str]) -> Vec<Msg> {
        frames.iter().map(|f| Msg::from(*f)).collect()
    }

    #[test]
    fn frames_round_trip_and_torn_messages_are_seen() {
        let whole: Vec<Msg> = frames(42, 3, 5).into_iter().map(Msg::from).collect();
        assert_eq!(classify(&whole, 3), Received::Whole(42));
        for torn in [
            &["1 0/3", "1 1/3", "2 2/3"][..],
            &["1 0/3", "1 1/3"],
            &["1 0/3", "2 0/3", "2 1/3"],
            &["1 0/3", "1 1/3", "1 2/3", "1 2/3"],
        ] {
            assert!(
                matches!(classify(&msg(torn), 3), Received::Torn(_)),
                "{torn:?}"
            );
        }
        assert!(matches!(
            classify(&msg(&["hello"]), 1),
            Received::Malformed(_)
        ));
        assert!(matches!(
            classify(&msg(&["1 0/2", "1 1/2"]), 3),
            Received::Malformed(_)
        ));
    }
}
