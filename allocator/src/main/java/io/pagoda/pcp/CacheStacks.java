package io.pagoda.pcp;

import static io.pagoda.region.PageDescriptors.NO_FRAME;

/**
 * The blocks one cache holds: for each cached order, a ring of head pfns used as a stack at its top
 * (the most recently freed block, still warm in the CPU caches, is handed out first) and drained
 * from its bottom (the coldest blocks go back to the zone first), like the kernel's pcp lists.
 *
 * <p>Not thread-safe: exactly one thread at a time holds a cache (its owner, or a drainer that took
 * it under {@link OwnedCache}'s protocol, or the holder of a {@link SharedCache}'s lock). The
 * counters are read racily by statistics; they are exact at quiescent points.
 */
final class CacheStacks {

    private final int[][] rings;
    private final int[] bottoms;
    private final int[] counts;
    /** Scratch space for bulk moves to and from the zone, as long as the largest batch. */
    final int[] scratch;

    long framesHeld;
    long hits;
    long misses;
    long refills;
    long drains;

    /** @param high the most blocks of each order the stacks hold; each ring holds one more */
    CacheStacks(int[] high, int largestBatch) {
        int orders = high.length;
        this.rings = new int[orders][];
        this.bottoms = new int[orders];
        this.counts = new int[orders];
        for (int order = 0; order < orders; order++) {
            rings[order] = new int[Integer.highestOneBit(high[order]) << 1]; // > high: room for one push past it
        }
        this.scratch = new int[largestBatch];
    }

    /** The most recently pushed block of this order, or NO_FRAME. */
    int pop(int order) {
        int count = counts[order];
        if (count == 0) {
            return NO_FRAME;
        }
        int[] ring = rings[order];
        counts[order] = --count;
        framesHeld -= 1L << order;
        return ring[(bottoms[order] + count) & (ring.length - 1)];
    }

    /** Pushes a block; the caller keeps the count at most {@code high + 1} by draining. */
    void push(int order, int pfn) {
        int[] ring = rings[order];
        int count = counts[order];
        ring[(bottoms[order] + count) & (ring.length - 1)] = pfn;
        counts[order] = count + 1;
        framesHeld += 1L << order;
    }

    /** Removes the {@code n} oldest blocks of this order into {@code into[0 .. n)}; n at most count. */
    void takeOldest(int order, int n, int[] into) {
        int[] ring = rings[order];
        int bottom = bottoms[order];
        for (int i = 0; i < n; i++) {
            into[i] = ring[(bottom + i) & (ring.length - 1)];
        }
        bottoms[order] = (bottom + n) & (ring.length - 1);
        counts[order] -= n;
        framesHeld -= (long) n << order;
    }

    int count(int order) {
        return counts[order];
    }

    int orders() {
        return counts.length;
    }

    /** Calls the visitor for every cached block, oldest first. */
    void forEach(BlockVisitor visitor) {
        for (int order = 0; order < counts.length; order++) {
            int[] ring = rings[order];
            for (int i = 0; i < counts[order]; i++) {
                visitor.visit(ring[(bottoms[order] + i) & (ring.length - 1)], order);
            }
        }
    }
}
