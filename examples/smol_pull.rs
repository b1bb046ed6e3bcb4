//! A zerosock socket in smol's event loop, registered through `AsFd` with no unsafe code: a
//! task receives what a PUSH sends, waiting on the socket's readiness descriptor between
//! messages.
//!
//! ```sh
//! cargo run --example smol_pull
//! ```

use smol::Async;
use zerosock::{Context, Error, PollableSocket, SocketType, DONTWAIT};

/// Receives `count` messages, waiting in smol's reactor while none is there.
async fn receive(pull: &Async<PollableSocket>, count: usize) -> Result<Vec<String>, Error> {
    let mut got = Vec::new();
    while got.len() < count {
        // The protocol: look (which clears the descriptor), act while ready, then wait.
        while pull.get_ref().events()?.readable {
            match pull.get_ref().recv_string(DONTWAIT) {
                Ok(text) => got.push(text),
                Err(e) if e.is_again() => break,
                Err(e) => return Err(e),
            }
        }
        if got.len() < count {
            pull.readable().await?;
        }
    }
    Ok(got)
}

fn main() -> Result<(), Error> {
    let ctx = Context::new();
    let pull = ctx.socket(SocketType::Pull)?.into_pollable()?;
    pull.bind("tcp://127.0.0.1:*")?;
    let endpoint = pull.last_endpoint().expect("bound");
    let pull = Async::new(pull)?;

    let sender = std::thread::spawn(move || -> Result<(), Error> {
        let push = ctx.socket(SocketType::Push)?;
        push.connect(&endpoint)?;
        for i in 0..10 {
            push.send(format!("message {i}"), 0)?;
        }
        Ok(())
    });
    let got = smol::block_on(receive(&pull, 10))?;
    sender.join().expect("the sender ran")?;
    for text in &got {
        println!("{text}");
    }
    Ok(())
}
