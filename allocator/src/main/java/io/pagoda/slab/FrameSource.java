package io.pagoda.slab;

/**
 * Where slabs get their blocks: the page allocator below, through its per-thread caches. Neither
 * method throws for lack of memory; the slab layer decides what an empty source means.
 */
public interface FrameSource {

    /** A block of {@code 2^order} frames, marked ALLOCATED; its head pfn, or NO_FRAME if there is none. */
    int allocate(int order);

    /** Gives back a block that {@link #allocate} returned, marked ALLOCATED again with no slab flag. */
    void free(int pfn, int order);
}
