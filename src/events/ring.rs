// SPDX-License-Identifier: GPL-2.0-only
//
// A reader of one BPF ringbuf, straight from its mmapped pages.
//
// libbpf's reader publishes its position to the producer after every
// record. The producer reads that position on every reserve, so under a
// steady stream the cache line holding it moves between the two CPUs once
// per record, which is most of the cost of a record. This reader publishes
// its position once per RELEASE_BYTES read, and once at the end of a drain.
//
// The layout is the kernel's (kernel/bpf/ringbuf.c): the first page holds
// the consumer position, which the reader writes; the next page holds the
// producer position; the data pages follow, mapped twice in a row so a
// record that wraps around the end is still contiguous. Each record starts
// with an 8-byte header: its length, with a busy bit while the producer is
// still writing it and a discard bit if it was thrown away, then the page
// offset. Records are padded to 8 bytes.

use std::num::NonZeroUsize;
use std::os::fd::BorrowedFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use anyhow::{ensure, Context, Result};
use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};

const BUSY_BIT: u32 = 1 << 31;
const DISCARD_BIT: u32 = 1 << 30;
const HDR_SIZE: u64 = 8;
/// How much is read between publications of the consumer position: often
/// enough that a producer filling the ring sees space come free while a
/// long drain is still going, rarely enough that the position's cache line
/// stays put.
const RELEASE_BYTES: u64 = 8 * 1024;

pub struct Ring {
    /// The consumer position's page (read-write).
    consumer: NonNull<std::ffi::c_void>,
    /// The producer position's page and the data pages twice (read-only).
    producer: NonNull<std::ffi::c_void>,
    producer_len: usize,
    page: usize,
    mask: u64,
}

impl Ring {
    /// Map the ringbuf map `fd` of `size` bytes (its max_entries).
    pub fn new(fd: BorrowedFd<'_>, size: u32) -> Result<Self> {
        let size = size as usize;
        ensure!(
            size.is_power_of_two(),
            "ringbuf size {size} is not a power of two"
        );
        let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .unwrap_or(4096) as usize;
        let producer_len = page + 2 * size;
        // SAFETY: mapping a ringbuf map's fd the way the kernel defines it;
        // the mappings are owned by this Ring and unmapped in Drop.
        let consumer = unsafe {
            mmap(
                None,
                NonZeroUsize::new(page).unwrap(),
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
                fd,
                0,
            )
        }
        .context("mapping the ringbuf's consumer page")?;
        // SAFETY: as above; the kernel allows only read access here.
        let producer = match unsafe {
            mmap(
                None,
                NonZeroUsize::new(producer_len).unwrap(),
                ProtFlags::PROT_READ,
                MapFlags::MAP_SHARED,
                fd,
                page as i64,
            )
        } {
            Ok(p) => p,
            Err(e) => {
                // SAFETY: unmapping what was mapped just above.
                let _ = unsafe { munmap(consumer, page) };
                return Err(e).context("mapping the ringbuf's data pages");
            }
        };
        Ok(Ring {
            consumer,
            producer,
            producer_len,
            page,
            mask: size as u64 - 1,
        })
    }

    fn consumer_pos(&self) -> &AtomicU64 {
        // SAFETY: the first u64 of the consumer page, mapped for as long as
        // self lives and aligned to a page.
        unsafe { AtomicU64::from_ptr(self.consumer.as_ptr().cast()) }
    }

    fn producer_pos(&self) -> &AtomicU64 {
        // SAFETY: as for consumer_pos, on the producer page.
        unsafe { AtomicU64::from_ptr(self.producer.as_ptr().cast()) }
    }

    /// Hand every complete record waiting to `f`, in order; returns how
    /// many. Stops at a record the producer is still writing.
    pub fn drain(&self, mut f: impl FnMut(&[u8])) -> usize {
        let consumer = self.consumer_pos();
        let mut cons = consumer.load(Ordering::Acquire);
        let mut published = cons;
        let mut n = 0;
        // SAFETY: the data pages start one page into the producer mapping.
        let data = unsafe { self.producer.as_ptr().cast::<u8>().add(self.page) };
        'drain: loop {
            let prod = self.producer_pos().load(Ordering::Acquire);
            if cons >= prod {
                break;
            }
            while cons < prod {
                // SAFETY: cons & mask is inside the first copy of the data
                // pages; the header is 8-aligned there.
                let hdr = unsafe { data.add((cons & self.mask) as usize) };
                let len = unsafe { AtomicU32::from_ptr(hdr.cast()) }.load(Ordering::Acquire);
                if len & BUSY_BIT != 0 {
                    break 'drain;
                }
                let body = len & !(BUSY_BIT | DISCARD_BIT);
                if len & DISCARD_BIT == 0 {
                    // SAFETY: the record's body follows its header and, the
                    // data pages being mapped twice, is contiguous even when
                    // it wraps; the producer is done with it (not busy).
                    let record = unsafe {
                        std::slice::from_raw_parts(hdr.add(HDR_SIZE as usize), body as usize)
                    };
                    f(record);
                    n += 1;
                }
                cons += (u64::from(body) + HDR_SIZE + 7) & !7;
                if cons - published >= RELEASE_BYTES {
                    consumer.store(cons, Ordering::Release);
                    published = cons;
                }
            }
        }
        if cons != published {
            consumer.store(cons, Ordering::Release);
        }
        n
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: unmapping the two mappings made in new(), once.
        unsafe {
            let _ = munmap(self.consumer, self.page);
            let _ = munmap(self.producer, self.producer_len);
        }
    }
}
