//! A socket registered with another runtime's reactor (smol) through `AsFd`: no wake-up is
//! lost between the socket's look and the reactor's wait.
#![cfg(unix)]

mod common;

use smol::Async;
use zerosock::{Context, SocketType, DONTWAIT};

#[test]
fn smol_waits_on_a_pollable_socket() {
    common::bounded(30, || {
        let ctx = Context::new();
        let pull = ctx
            .socket(SocketType::Pull)
            .unwrap()
            .into_pollable()
            .unwrap();
        pull.set_rcvhwm(4).unwrap();
        pull.bind("inproc://smol").unwrap();
        let push = ctx.socket(SocketType::Push).unwrap();
        push.set_sndhwm(4).unwrap();
        push.connect("inproc://smol").unwrap();
        let sender = std::thread::spawn(move || {
            for i in 0..2000u32 {
                push.send(i.to_be_bytes().to_vec(), 0).unwrap();
            }
            push
        });
        let pull = Async::new(pull).unwrap();
        let got = smol::block_on(async {
            let mut next = 0u32;
            while next < 2000 {
                while pull.get_ref().events().unwrap().readable {
                    match pull.get_ref().recv(DONTWAIT) {
                        Ok(msg) => {
                            assert_eq!(msg.as_bytes(), next.to_be_bytes());
                            next += 1;
                        }
                        Err(e) if e.is_again() => break,
                        Err(e) => panic!("{e}"),
                    }
                }
                if next < 2000 {
                    pull.readable().await.unwrap();
                }
            }
            next
        });
        assert_eq!(got, 2000);
        drop(sender.join().unwrap());
    });
}
