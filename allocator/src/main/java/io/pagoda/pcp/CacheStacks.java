package io.pagoda.pcp;

import static io.pagoda.region.PageDescriptors.NO_FRAME;

/**
 * The blocks one cache holds: for each cached order, a stack of head pfns. The top is the most
 * recently freed block, still warm in the CPU caches, and is handed out first; the bottom holds the
 * coldest, which go back to the zone first, as in the kernel's pcp lists.
 *
 * <pre>
 * slots: | order 0: bottom .. top, free | order 1: ... | order 2: ... | order 3: ... |
 *        ^ 0                           ^ stride       ^ 2 * stride
 * </pre>
 * One array for all orders, each order's stack at {@code order * stride}, so that a pop or a push
 * is two array accesses and no pointer chase. {@code stride} is the largest {@code high + 1}.
 *
 * <p>Not thread-safe: exactly one thread at a time holds a cache (its owner, or a drainer that took
 * it under {@link OwnedCache}'s protocol, or the holder of a {@link SharedCache}'s lock). The
 * counters are read racily by statistics; they are exact at quiescent points.
 */
final class CacheStacks {

    private final int[] slots;
    private final int[] counts;
    private final int stride;
    private final int[] high;
    /** Scratch space for bulk moves to and from the zone, as long as the largest batch. */
    final int[] scratch;

    long hits;
    long misses;
    /** Frees pushed on these stacks, by their owner (or a stripe's holder). */
    long frees;
    long refills;
    long drains;

    /** @param high the most blocks of each order the stacks hold; each stack has room for one more */
    CacheStacks(int[] high, int largestBatch) {
        int largest = 0;
        for (int blocks : high) {
            largest = Math.max(largest, blocks);
        }
        this.stride = largest + 1;
        this.high = high.clone();
        this.slots = new int[high.length * stride];
        this.counts = new int[high.length];
        this.scratch = new int[largestBatch];
    }

    /** The most recently pushed block of this order, or NO_FRAME. */
    int pop(int order) {
        int count = counts[order] - 1;
        if (count < 0) {
            return NO_FRAME;
        }
        counts[order] = count;
        return slots[order * stride + count];
    }

    /** Pushes a block; the caller keeps the count at most {@code high + 1} by draining. */
    void push(int order, int pfn) {
        int count = counts[order];
        slots[order * stride + count] = pfn;
        counts[order] = count + 1;
    }

    /** Pushes a block; true if the stack is now above its high mark and must give a batch back. */
    boolean pushAboveHigh(int order, int pfn) {
        int count = counts[order];
        slots[order * stride + count] = pfn;
        counts[order] = ++count;
        return count > high[order];
    }

    /**
     * Removes the {@code n} oldest blocks of this order into {@code into[0 .. n)}, n at most the
     * count, and moves the rest down: a copy of at most {@code high} ints, once per batch freed.
     */
    void takeOldest(int order, int n, int[] into) {
        int bottom = order * stride;
        int left = counts[order] - n;
        System.arraycopy(slots, bottom, into, 0, n);
        System.arraycopy(slots, bottom + n, slots, bottom, left);
        counts[order] = left;
    }

    int count(int order) {
        return counts[order];
    }

    /** Frames in the blocks held: computed, not counted, to keep the fast path to its stores. */
    long framesHeld() {
        long frames = 0;
        for (int order = 0; order < counts.length; order++) {
            frames += (long) counts[order] << order;
        }
        return frames;
    }

    int orders() {
        return counts.length;
    }

    /** Calls the visitor for every cached block, oldest first. */
    void forEach(BlockVisitor visitor) {
        for (int order = 0; order < counts.length; order++) {
            for (int i = 0; i < counts[order]; i++) {
                visitor.visit(slots[order * stride + i], order);
            }
        }
    }
}
