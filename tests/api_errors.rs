//! Errors that port and the small conveniences of the API: would-block and timeout alike,
//! errors as `std::io::Error`, bind errors naming their endpoint, a send that gives its
//! frame back, text frames, and frame equality.

mod common;

use std::io;
use zerosock::{Context, Error, Msg, SocketType, DONTWAIT, SNDMORE};

#[test]
fn would_block_and_timeout_are_both_again_and_port_to_io() {
    common::bounded(20, || {
        let ctx = Context::new();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.bind("inproc://again").unwrap();
        let nothing = pull.recv(DONTWAIT).unwrap_err();
        assert!(matches!(nothing, Error::WouldBlock) && nothing.is_again());
        pull.set_rcvtimeo(20).unwrap();
        let timed_out = pull.recv(0).unwrap_err();
        assert!(matches!(timed_out, Error::TimedOut) && timed_out.is_again());
        assert!(!Error::Terminated.is_again());

        let as_io: io::Error = nothing.into();
        assert_eq!(as_io.kind(), io::ErrorKind::WouldBlock);
        let as_io: io::Error = timed_out.into();
        assert_eq!(as_io.kind(), io::ErrorKind::TimedOut);
        let in_use = pull.bind("inproc://again").unwrap_err();
        assert!(matches!(in_use, Error::AddressInUse(_)));
        assert_eq!(io::Error::from(in_use).kind(), io::ErrorKind::AddrInUse);
        let bad = pull.bind("tcp://").unwrap_err();
        assert_eq!(io::Error::from(bad).kind(), io::ErrorKind::InvalidInput);
        // An error from the operating system comes back as it was.
        let os: io::Error = Error::Io(io::Error::from_raw_os_error(24)).into();
        assert_eq!(os.raw_os_error(), Some(24));
        // Usable with `?` in code that returns io::Result.
        fn io_code(s: &zerosock::Socket) -> io::Result<Msg> {
            Ok(s.recv(DONTWAIT)?)
        }
        assert_eq!(
            io_code(&pull).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    });
}

#[test]
fn bind_errors_name_their_endpoint() {
    common::bounded(20, || {
        let ctx = Context::new();
        let s = ctx.socket(SocketType::Pull).unwrap();
        let missing_dir = "ipc:///nonexistent-zerosock-dir/x.ipc";
        match s.bind(missing_dir) {
            Err(Error::Endpoint { endpoint, source }) => {
                assert_eq!(endpoint, missing_dir);
                assert_eq!(source.kind(), io::ErrorKind::NotFound);
            }
            other => panic!("expected an endpoint error, got {other:?}"),
        }
        let err = s.bind(missing_dir).unwrap_err();
        assert!(err.to_string().starts_with(missing_dir), "{err}");
        // An address this host does not have (TEST-NET-1).
        let foreign = "tcp://192.0.2.1:5555";
        let err = s.bind(foreign).unwrap_err();
        assert!(
            matches!(&err, Error::Endpoint { endpoint, .. } if endpoint == foreign),
            "{err:?}"
        );
    });
}

#[test]
fn try_send_gives_the_frame_back_and_it_goes_later() {
    common::bounded(20, || {
        let ctx = Context::new();
        let push = ctx.socket(SocketType::Push).unwrap();
        push.set_sndhwm(1).unwrap();
        push.bind("inproc://give-back").unwrap();
        // No peer yet: would block, and the frame comes back whole.
        let refused = push.try_send(Msg::from("kept"), DONTWAIT).unwrap_err();
        assert!(refused.error.is_again());
        let msg = refused.msg.expect("the frame comes back");
        assert_eq!(msg, "kept");

        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.set_rcvhwm(1).unwrap();
        pull.connect("inproc://give-back").unwrap();
        push.try_send(msg, 0).unwrap();
        assert_eq!(pull.recv(0).unwrap(), "kept");

        // A socket type that cannot send refuses at once, and says so.
        let refused = pull.try_send(Msg::from("no"), 0).unwrap_err();
        assert!(matches!(refused.error, Error::WrongState(_)), "{refused}");

        // Terminated: given back.
        let frame = Msg::from("late");
        ctx.terminate();
        let refused = push.try_send(frame, DONTWAIT | SNDMORE).unwrap_err();
        assert!(matches!(refused.error, Error::Terminated));
        assert_eq!(refused.msg.unwrap(), "late");
    });
}

#[test]
fn text_frames_and_frame_equality() {
    common::bounded(20, || {
        let ctx = Context::new();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.bind("inproc://text").unwrap();
        let push = ctx.socket(SocketType::Push).unwrap();
        push.connect("inproc://text").unwrap();
        push.send("héllo", 0).unwrap();
        push.send(&[0xff, 0xfe][..], 0).unwrap();
        push.send_multipart(["multi", "part"], 0).unwrap();
        assert_eq!(pull.recv_string(0).unwrap(), "héllo");
        match pull.recv_string(0) {
            Err(Error::NotUtf8(frame)) => assert_eq!(frame, &[0xff, 0xfe][..]),
            other => panic!("expected NotUtf8, got {other:?}"),
        }
        // Frames compare by their bytes: the MORE flag is the receiver's to look at.
        let parts = pull.recv_multipart(0).unwrap();
        assert_eq!(parts[0], Msg::from("multi"));
        assert!(parts[0].more() && !parts[1].more());
        assert_ne!(parts[0], parts[1]);
        // The bytes crate is reachable from here.
        let body: zerosock::bytes::Bytes = parts[1].as_bytes().to_vec().into();
        assert_eq!(Msg::from(body), parts[1]);
    });
}
