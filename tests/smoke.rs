mod common;
use common::*;
use zerosock::{Context, SocketType};

#[test]
fn push_pull_tcp_ipc_inproc() {
    bounded(30, || {
        let ctx = Context::new();
        for ep in [
            "tcp://127.0.0.1:*".to_string(),
            ipc_endpoint("smoke"),
            "inproc://smoke".to_string(),
        ] {
            let pull = ctx.socket(SocketType::Pull).unwrap();
            pull.set_rcvtimeo(5000).unwrap();
            pull.bind(&ep).unwrap();
            let ep = pull.last_endpoint().unwrap();
            let push = ctx.socket(SocketType::Push).unwrap();
            push.connect(&ep).unwrap();
            for i in 0..1000u32 {
                push.send(i.to_be_bytes().to_vec(), 0).unwrap();
            }
            for i in 0..1000u32 {
                let m = pull.recv(0).unwrap();
                assert_eq!(&m[..], &i.to_be_bytes()[..], "{ep}");
            }
            eprintln!("{ep} ok");
        }
    });
}
