//! Fetching cache lines for writing ahead of the stores that will need them (x86-64's
//! PREFETCHW). A message's slot in a pipe and a medium body's piece of a slab were last read
//! on the other core (the pipe's reader, the receiver of the body), so their lines sit there:
//! a store waits for them to come over, and the swap that publishes a message waits for every
//! store before it. Fetched a few messages ahead, the transfers overlap the work in between.
//! The pipe's writer fetches the slots it fills next (`Writer::prepare_ahead`); the body
//! slabs fetch the piece they hand out after the next one (`body_slab`).

/// Proof that the CPU has PREFETCHW: the only way to get one is [`WriteAhead::new`], which
/// asks the CPU.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WriteAhead(());

impl WriteAhead {
    /// `Some` when the CPU has PREFETCHW (CPUID leaf 0x8000_0001, ECX bit 8: AMD's CPUs since
    /// the K10, Intel's since Broadwell); never on other architectures or under loom. Older
    /// CPUs may lack it, so it is asked, not assumed; once per process, as CPUID traps to the
    /// hypervisor on a VM.
    pub(crate) fn new() -> Option<WriteAhead> {
        #[cfg(all(target_arch = "x86_64", not(loom)))]
        {
            static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
            let has = *HAS.get_or_init(|| {
                // SAFETY: CPUID exists on every x86-64 CPU and has no side effects; leaf
                // 0x8000_0000 says whether the extended leaf read next exists. (A safe call
                // in newer Rust.)
                #[allow(unused_unsafe)]
                let (max, ext) = unsafe {
                    let max = std::arch::x86_64::__cpuid(0x8000_0000).eax;
                    (max, std::arch::x86_64::__cpuid(0x8000_0001).ecx)
                };
                max >= 0x8000_0001 && ext & (1 << 8) != 0
            });
            has.then_some(WriteAhead(()))
        }
        #[cfg(not(all(target_arch = "x86_64", not(loom))))]
        None
    }

    /// Starts taking for writing the cache lines of the `len` bytes at `at`. A hint only: it
    /// reads and writes no memory and cannot fault, whatever the address, so any pointer
    /// will do (a stale one just fetches a line for nothing).
    #[inline(always)]
    pub(crate) fn lines(self, at: *const u8, len: usize) {
        #[cfg(all(target_arch = "x86_64", not(loom)))]
        for line in 0..len.div_ceil(LINE) {
            // SAFETY: PREFETCHW only hints the cache: it cannot fault and changes no memory,
            // register or flag, whatever the address; `self` proves the CPU has it.
            unsafe {
                std::arch::asm!(
                    "prefetchw [{0}]",
                    in(reg) at.wrapping_add(line * LINE),
                    options(nostack, readonly, preserves_flags)
                )
            };
        }
        #[cfg(not(all(target_arch = "x86_64", not(loom))))]
        let _ = (at, len);
    }
}

/// A cache line.
#[cfg_attr(any(loom, not(target_arch = "x86_64")), allow(dead_code))]
const LINE: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetching_ahead_changes_nothing_and_takes_any_address() {
        let Some(ahead) = WriteAhead::new() else {
            return;
        };
        let buf: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
        let before = buf.clone();
        ahead.lines(buf.as_ptr(), buf.len());
        ahead.lines(buf.as_ptr().wrapping_add(3), 100);
        assert_eq!(buf, before);
        // Addresses that are not memory of this process: still no fault.
        ahead.lines(std::ptr::null(), 4096);
        ahead.lines(usize::MAX as *const u8, 64);
        ahead.lines(std::ptr::dangling(), 1 << 20);
    }
}
