//! `examples/seqpeer`, the checking peer of `.ci/netns-faults`: its own tests (torn, duplicate,
//! reordered and missing messages are seen; a clean run passes), run here because cargo does
//! not run an example's tests.

#[allow(dead_code)]
#[path = "../examples/seqpeer.rs"]
mod seqpeer;
