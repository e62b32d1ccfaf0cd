package io.pagoda.pcp;

import java.util.Arrays;

import static io.pagoda.region.PageDescriptors.NO_FRAME;

/**
 * The blocks one cache holds: for each cached order, a stack of head pfns. The top is the most
 * recently freed block, still warm in the CPU caches, and is handed out first; the bottom holds the
 * coldest, which go back to the zone first, as in the kernel's pcp lists.
 *
 * <pre>
 * slots: | order 0: count, high, bottom | order 1: ... | ... | order 0: bottom .. top, free | order 1: ... |
 *        ^ 0                            ^ 3                   ^ 3 * orders (order 0's bottom)
 * </pre>
 * One array for every order's header and stack, so that a pop or a push reads one array
 * reference and one length; and each order's count, high mark and where its stack starts side by
 * side, found from the order with one multiplication by a constant: the fast path is a few loads
 * and stores, no pointer chase. Each stack has room for {@code high + 1} blocks.
 *
 * <p>Not thread-safe: exactly one thread at a time holds a cache (its owner, or a drainer that took
 * it under the protocol of {@link OwnedCache}, which this class extends, or the holder of a
 * {@link SharedCache}'s lock). The counters are read racily by statistics; they are exact at
 * quiescent points.
 */
final class CacheStacks extends OwnedCache {

    /** The header of an order: at {@code HEADER * order}, its count, high mark and bottom. */
    private static final int HEADER = 3;
    private static final int HIGH = 1;
    private static final int BOTTOM = 2;

    private final int[] slots;
    private final int orders;
    /** Scratch space for bulk moves to and from the zone, as long as the largest batch. */
    final int[] scratch;


    /**
     * @param high  the most blocks of each order the stacks hold; each stack has room for one more
     * @param owner the thread that owns them, or null for a shared stripe's
     */
    CacheStacks(int[] high, int largestBatch, Thread owner) {
        super(owner);
        this.orders = high.length;
        int bottom = HEADER * orders;
        int[] headers = new int[bottom];
        for (int order = 0; order < orders; order++) {
            headers[HEADER * order + HIGH] = high[order];
            headers[HEADER * order + BOTTOM] = bottom;
            bottom += high[order] + 1;
        }
        this.slots = Arrays.copyOf(headers, bottom);
        this.scratch = new int[largestBatch];
    }

    private int bottom(int order) {
        return slots[HEADER * order + BOTTOM];
    }

    /** The most recently pushed block of this order, or NO_FRAME. */
    int pop(int order) {
        int[] s = slots;
        int header = HEADER * order;
        int count = s[header] - 1;
        if (count < 0) {
            return NO_FRAME;
        }
        s[header] = count;
        return s[s[header + BOTTOM] + count];
    }

    /** Pushes a block of a refill; the caller keeps the count at most {@code high + 1} by draining. */
    void pushRefilled(int order, int pfn) {
        int[] s = slots;
        int header = HEADER * order;
        int count = s[header];
        s[s[header + BOTTOM] + count] = pfn;
        s[header] = count + 1;
        countRefilled();
    }

    /** Pushes a block; true if the stack is now above its high mark and must give a batch back. */
    boolean pushAboveHigh(int order, int pfn) {
        int[] s = slots;
        int header = HEADER * order;
        int count = s[header];
        s[s[header + BOTTOM] + count] = pfn;
        s[header] = ++count;
        return count > s[header + HIGH];
    }

    /**
     * Removes the {@code n} oldest blocks of this order into {@code into[0 .. n)}, n at most the
     * count, and moves the rest down: a copy of at most {@code high} ints, once per batch freed.
     */
    void takeOldest(int order, int n, int[] into) {
        int bottom = bottom(order);
        int left = count(order) - n;
        System.arraycopy(slots, bottom, into, 0, n);
        System.arraycopy(slots, bottom + n, slots, bottom, left);
        slots[HEADER * order] = left;
        countTakenOut(n);
    }

    @Override
    protected long itemsHeld() {
        long blocks = 0;
        for (int order = 0; order < orders; order++) {
            blocks += count(order);
        }
        return blocks;
    }

    int count(int order) {
        return slots[HEADER * order];
    }

    /** Frames in the blocks held: computed, not counted, to keep the fast path to its stores. */
    long framesHeld() {
        long frames = 0;
        for (int order = 0; order < orders; order++) {
            frames += (long) count(order) << order;
        }
        return frames;
    }

    int orders() {
        return orders;
    }

    /** Calls the visitor for every cached block, oldest first. */
    void forEach(BlockVisitor visitor) {
        for (int order = 0; order < orders; order++) {
            for (int i = 0; i < count(order); i++) {
                visitor.visit(slots[bottom(order) + i], order);
            }
        }
    }
}
