package io.pagoda;

import io.pagoda.buddy.Lifetimes;

/**
 * How long a block is expected to live: the kernel's migrate types, for memory that cannot move.
 *
 * <p>Blocks are grouped by lifetime in pageblocks (2 MiB by default): when the short-lived
 * buffers of a burst come back, they merge into large blocks again, instead of staying cut apart
 * by a table that lives for hours. Say {@link #LONG_LIVED} for what will outlive many requests;
 * the allocator's arenas and slabs do so by themselves.
 *
 * {@snippet lang=java :
 * long table = pages.allocatePages(9, Lifetime.LONG_LIVED);   // a 2 MiB hash table
 * long buffer = pages.allocatePages(0);                        // a 4 KiB I/O buffer: short-lived
 * }
 */
public enum Lifetime {

    /** Comes back soon: I/O buffers, per-request memory. The default. */
    SHORT_LIVED(Lifetimes.SHORT_LIVED),
    /** Kept for long: tables, indexes, arenas, slabs. */
    LONG_LIVED(Lifetimes.LONG_LIVED),
    /** Kept for long, but its owner can free it when asked: caches. */
    RECLAIMABLE(Lifetimes.RECLAIMABLE);

    /** The buddy core's number of the type. */
    final int type;

    Lifetime(int type) {
        this.type = type;
    }
}
