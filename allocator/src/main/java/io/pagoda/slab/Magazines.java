package io.pagoda.slab;

import io.pagoda.pcp.OwnedCache;

import java.util.Arrays;

/**
 * The free objects one per-thread cache holds: for each slab class, a stack of object offsets
 * (Bonwick's magazines). The top is the most recently freed object, still warm in the CPU caches,
 * and is handed out first; the bottom holds the coldest, which go back to their slabs first.
 *
 * <pre>
 * slots: | class 0: count, high, bottom | class 1: ... | ... | class 0: bottom .. top, free | class 1: ... |
 *        ^ 0                            ^ 3                   ^ 3n (class 0's bottom)
 * </pre>
 * One array for every class's header and stack (with room for {@code high + 1}), as in the page
 * caches' {@code CacheStacks}, so that a pop or a push reads one array reference and one length,
 * and finds the class's count, high mark and bottom side by side: the fast path is a few loads and
 * stores, no pointer chase.
 *
 * <p>Not thread-safe: exactly one thread at a time holds the magazines, as for the page caches'
 * {@code CacheStacks}; like them, they are the owner's {@link OwnedCache}, under its drain
 * protocol. {@link #scratch} belongs to the owner alone (or the holder of a shared stripe's lock),
 * even outside an operation: a drainer never touches it.
 */
final class Magazines extends OwnedCache {

    /** Returned by {@link #pop} when the class's stack is empty. Offsets are never negative. */
    static final long EMPTY = -1;

    /** The header of a class: at {@code HEADER * sizeClass}, its count, high mark and bottom. */
    private static final int HEADER = 3;
    private static final int HIGH = 1;
    private static final int BOTTOM = 2;

    private final long[] slots;
    private final int classes;
    /** Room for a batch moved to or from the slabs, as long as the largest batch. */
    final long[] scratch;


    Magazines(int[] high, int largestBatch, Thread owner) {
        super(owner);
        this.classes = high.length;
        int bottom = HEADER * classes;
        long[] headers = new long[bottom];
        for (int c = 0; c < classes; c++) {
            headers[HEADER * c + HIGH] = high[c];
            headers[HEADER * c + BOTTOM] = bottom;
            bottom += high[c] + 1;
        }
        this.slots = Arrays.copyOf(headers, bottom);
        this.scratch = new long[largestBatch];
    }

    private int bottom(int sizeClass) {
        return (int) slots[HEADER * sizeClass + BOTTOM];
    }

    /** The most recently pushed object of this class, or {@link #EMPTY}. */
    long pop(int sizeClass) {
        long[] s = slots;
        int header = HEADER * sizeClass;
        int count = (int) s[header] - 1;
        if (count < 0) {
            return EMPTY;
        }
        s[header] = count;
        return s[(int) s[header + BOTTOM] + count];
    }

    /** Pushes an object of a refill; the caller keeps the count at most {@code high + 1} by draining. */
    void pushRefilled(int sizeClass, long offset) {
        long[] s = slots;
        int header = HEADER * sizeClass;
        int count = (int) s[header];
        s[(int) s[header + BOTTOM] + count] = offset;
        s[header] = count + 1;
        countRefilled();
    }

    /** Pushes an object; true if the stack is now above its high mark and must give a batch back. */
    boolean pushAboveHigh(int sizeClass, long offset) {
        long[] s = slots;
        int header = HEADER * sizeClass;
        int count = (int) s[header];
        s[(int) s[header + BOTTOM] + count] = offset;
        s[header] = ++count;
        return count > s[header + HIGH];
    }

    /** Removes the {@code n} oldest objects of a class into {@code into[0 .. n)}, n at most the count. */
    void takeOldest(int sizeClass, int n, long[] into) {
        int bottom = bottom(sizeClass);
        int left = count(sizeClass) - n;
        System.arraycopy(slots, bottom, into, 0, n);
        System.arraycopy(slots, bottom + n, slots, bottom, left);
        slots[HEADER * sizeClass] = left;
        countTakenOut(n);
    }

    @Override
    protected long itemsHeld() {
        long objects = 0;
        for (int c = 0; c < classes; c++) {
            objects += count(c);
        }
        return objects;
    }

    int count(int sizeClass) {
        return (int) slots[HEADER * sizeClass];
    }

    int classes() {
        return classes;
    }

    /** Bytes in the objects held: computed, not counted, to keep the fast path to its stores. */
    long bytesHeld(SizeClasses sizes) {
        long bytes = 0;
        for (int c = 0; c < classes; c++) {
            bytes += count(c) * sizes.size(c);
        }
        return bytes;
    }

    /** Calls the visitor for every object held, oldest first. */
    void forEach(ObjectVisitor visitor) {
        for (int c = 0; c < classes; c++) {
            for (int i = 0; i < count(c); i++) {
                visitor.visit(slots[bottom(c) + i], c);
            }
        }
    }
}
