package io.pagoda.buddy;

import io.pagoda.region.PageDescriptors;

import java.util.Arrays;

import static io.pagoda.region.PageDescriptors.FREE;
import static io.pagoda.region.PageDescriptors.NO_FRAME;

/**
 * The free lists of one zone, the kernel's {@code free_area[order].free_list[lifetime]}: one
 * doubly linked list per (order, lifetime type), threaded through the page descriptors of the
 * blocks' head frames, so that a block is removed in O(1) when its buddy is freed.
 *
 * <p>Invariant: a frame is on list (order, lifetime) exactly when its descriptor reads
 * {@code info(FREE, order, lifetime)}; {@link #count} is the length of each list. All methods
 * expect the caller to hold the owning zone's lock.
 */
final class FreeLists {

    private final PageDescriptors descriptors;
    private final int orders;
    /** Head pfn of each list, indexed by {@link #list(int, int)}; NO_FRAME when empty. */
    private final int[] heads;
    /** Length of each list (the kernel's nr_free, kept per lifetime too). */
    private final long[] counts;
    /** Frames in the blocks of each lifetime's lists, all orders together. */
    private final long[] frames;

    FreeLists(PageDescriptors descriptors, int maxOrder, int lifetimes) {
        this.descriptors = descriptors;
        this.orders = maxOrder + 1;
        this.heads = new int[orders * lifetimes];
        this.counts = new long[orders * lifetimes];
        this.frames = new long[lifetimes];
        Arrays.fill(heads, NO_FRAME);
    }

    private int list(int order, int lifetime) {
        return lifetime * orders + order;
    }

    /** Pushes the block at {@code pfn} on the front of its list and marks its head free. */
    void add(int pfn, int order, int lifetime) {
        int list = list(order, lifetime);
        int first = heads[list];
        descriptors.setInfo(pfn, PageDescriptors.info(FREE, order, lifetime));
        descriptors.setPrev(pfn, NO_FRAME);
        descriptors.setNext(pfn, first);
        if (first != NO_FRAME) {
            descriptors.setPrev(first, pfn);
        }
        heads[list] = pfn;
        counts[list]++;
        frames[lifetime] += 1L << order;
    }

    /**
     * Unlinks the block at {@code pfn} from its list. Its descriptor still reads FREE: the caller
     * rewrites it (allocated head, merged tail) before releasing the lock.
     */
    void remove(int pfn, int order, int lifetime) {
        int list = list(order, lifetime);
        int prev = descriptors.prev(pfn);
        int next = descriptors.next(pfn);
        if (prev == NO_FRAME) {
            heads[list] = next;
        } else {
            descriptors.setNext(prev, next);
        }
        if (next != NO_FRAME) {
            descriptors.setPrev(next, prev);
        }
        counts[list]--;
        frames[lifetime] -= 1L << order;
    }

    /** The first block of a list, or NO_FRAME. */
    int first(int order, int lifetime) {
        return heads[list(order, lifetime)];
    }

    /** The number of blocks on a list. */
    long count(int order, int lifetime) {
        return counts[list(order, lifetime)];
    }

    /** Frames in the blocks on a lifetime's lists, of every order. */
    long frames(int lifetime) {
        return frames[lifetime];
    }
}
